"""Image-to-image against text-to-image on the same engine and model, measured side by side:
the time of one denoising step in each mode, and the memory the derived pipelines add
(from_pipe shares the weights) against loading the model a second time.

Run: python bench/bench_image_modes.py [--repeats 5] [--json bench/results_image_modes.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any


def _step_times(engine: Any, request: Any) -> list[float]:
    from studio.engine.run.events import Step

    stamps: list[float] = []

    def on_event(event: Any) -> None:
        if isinstance(event, Step):
            stamps.append(event.elapsed)

    engine.generate(request, on_event)
    return [b - a for a, b in itertools.pairwise(stamps)]


def _bytes(pipe: Any) -> int:
    seen: set[int] = set()
    total = 0
    for name in ("unet", "transformer", "vae", "text_encoder", "text_encoder_2"):
        module = getattr(pipe, name, None)
        for tensor in list(module.parameters()) + list(module.buffers()) if module is not None else []:
            if tensor.data_ptr() not in seen:
                seen.add(tensor.data_ptr())
                total += tensor.numel() * tensor.element_size()
    return total


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from PIL import Image

    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.previews.previewer import PreviewSettings
    from studio.engine.run.derived import derived_pipeline
    from studio.engine.run.engine import Engine
    from studio.engine.run.request import GenerationRequest

    torch.set_num_threads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="studio-bench-"))
    paths = StudioPaths.under(home)
    engine = Engine(ModelRegistry(paths), device="cpu", previews=PreviewSettings(cache_dir=paths.cache_dir))
    text = GenerationRequest("a red circle on a white background", seed=1, steps=21)
    first = engine.generate(text, lambda event: None)
    start = home / "start.png"
    first.images[0].save(start)  # type: ignore[union-attr]
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    mask.save(home / "mask.png")
    image = text.replace(start_image=str(start), strength=0.95, seed=2)
    inpaint = image.replace(mask=str(home / "mask.png"), strength=0.95)
    rows: dict[str, list[float]] = {"text-to-image": [], "image-to-image": [], "inpainting": []}
    for _ in range(args.repeats):  # interleaved, so a busy machine slows every mode alike
        rows["text-to-image"].append(statistics.median(_step_times(engine, text)))
        rows["image-to-image"].append(statistics.median(_step_times(engine, image)))
        rows["inpainting"].append(statistics.median(_step_times(engine, inpaint)))
    base = engine.pipeline_for(engine.registry.resolve(""))
    shared = _bytes(base)
    derived = [derived_pipeline(base, "image"), derived_pipeline(base, "inpaint")]
    union: set[int] = set()
    for pipe in [base, *derived]:
        for name in ("unet", "vae", "text_encoder"):
            union.update(t.data_ptr() for t in getattr(pipe, name).parameters())
    second = Engine(ModelRegistry(StudioPaths.under(home / "second")), device="cpu")
    second_pipe = second.pipeline_for(second.registry.resolve(""))
    text_step = statistics.median(rows["text-to-image"])
    result = {
        "repeats": args.repeats,
        "step_ms": {k: [round(v * 1000, 3) for v in vs] for k, vs in rows.items()},
        "step_ratio_to_text": {k: round(statistics.median(vs) / text_step, 3) for k, vs in rows.items()},
        "step_ratio_spread": {k: [round(min(vs) / max(rows["text-to-image"]), 3),
                                  round(max(vs) / min(rows["text-to-image"]), 3)] for k, vs in rows.items()},
        "weights_bytes": shared,
        "extra_bytes_from_pipe": _bytes_of_new(base, derived),
        "extra_bytes_second_load": _bytes(second_pipe),
        "distinct_tensors_base_and_derived": len(union),
    }
    return result


def _bytes_of_new(base: Any, derived: list[Any]) -> int:
    """Bytes held by the derived pipelines that the base does not hold already."""
    known = {t.data_ptr() for name in ("unet", "vae", "text_encoder") for t in getattr(base, name).parameters()}
    extra = 0
    for pipe in derived:
        for name in ("unet", "vae", "text_encoder"):
            for tensor in getattr(pipe, name).parameters():
                if tensor.data_ptr() not in known:
                    known.add(tensor.data_ptr())
                    extra += tensor.numel() * tensor.element_size()
    return extra


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results_image_modes.json"))
    args = parser.parse_args()
    result = run(args)
    print(f"{'mode':<16}{'step ms (median)':>18}{'x text':>9}{'spread':>16}")
    for mode, values in result["step_ms"].items():
        low, high = result["step_ratio_spread"][mode]
        print(f"{mode:<16}{statistics.median(values):>18.2f}{result['step_ratio_to_text'][mode]:>9.2f}"
              f"{f'{low:.2f}-{high:.2f}':>16}")
    mib = 1024 * 1024
    print(f"weights {result['weights_bytes'] / mib:.1f} MiB; image-to-image + inpainting pipelines add "
          f"{result['extra_bytes_from_pipe'] / mib:.2f} MiB; a second load adds "
          f"{result['extra_bytes_second_load'] / mib:.1f} MiB")
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
