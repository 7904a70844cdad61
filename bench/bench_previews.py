"""Preview cost per decoder (% of a denoising step) and the app's overhead against bare diffusers.

Measured side by side in one run, on the bundled demo model (when present) and on a full-size
SD 1.5 architecture with random weights (same cost per step as the real one) at 256x256 on
the CPU, or at 512x512 in fp16 with `--device cuda`. Overhead: the engine with a preview every
step against a bare `pipe(...)` with the same model, steps, size and seed; runs interleaved,
medians compared.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_ID = "studio-shapes"
BUDGET_PCT = {"linear": 2.0, "tiny": 8.0, "full": None}


@dataclass(frozen=True)
class Target:
    """Where the figures are measured: the device, its precision, and how notes name it."""

    device: str = "cpu"
    dtype: str = "fp32"
    label: str = "CPU"

    @property
    def on_cpu(self) -> bool:
        return self.device == "cpu"

    def torch_dtype(self) -> Any:
        import torch

        return {"fp32": torch.float32, "fp16": torch.float16}[self.dtype]

    def sync(self) -> None:
        """Wait for queued device work, so a timer stops when the work is done."""
        if not self.on_cpu:
            import torch

            torch.cuda.synchronize()


def target_for(device: str) -> Target:
    """The CPU in fp32, or CUDA in fp16; SystemExit with a message when CUDA is missing."""
    if device == "cpu":
        return Target()
    if device != "cuda":
        raise SystemExit(f"Unknown device {device!r}: choose cpu or cuda.")
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(
            "--device cuda needs an NVIDIA GPU with a CUDA build of torch; "
            f"this torch ({torch.__version__}) sees none. Run without --device to measure on the CPU."
        )
    return Target("cuda", "fp16", f"CUDA fp16, {torch.cuda.get_device_name()}")


def _figure(value: float | None, target: float | None, unit: str = "%", note: str = "") -> dict[str, Any]:
    return {"value": None if value is None else round(value, 3), "target": target, "unit": unit,
            "better": "lower", "note": note}


def _sd15_pipe(target: Target) -> Any:
    """SD 1.5's architecture from its config, random weights; a byte-level CLIP tokenizer."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tests.tiny_models import byte_level_vocab

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
        cross_attention_dim=768, attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    )
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=512, scaling_factor=0.18215,
    )
    tokenizer = CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=77)
    text = CLIPTextModel(CLIPTextConfig(
        hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
        projection_dim=768, max_position_embeddings=77, vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
        timestep_spacing="leading",
    )
    pipe = StableDiffusionPipeline(
        unet=unet.eval(), vae=vae.eval(), text_encoder=text.eval(), tokenizer=tokenizer,
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    if not target.on_cpu:
        pipe = pipe.to(target.device, target.torch_dtype())
    return pipe


def _config_folder(pipe: Any, folder: Path) -> Path:
    """A model folder with the pipeline's configs only: enough for the registry to name it."""
    folder.mkdir(parents=True, exist_ok=True)
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1"}
    index.update({k: list(v) for k, v in pipe.config.items() if isinstance(v, (list, tuple))})
    (folder / "model_index.json").write_text(json.dumps(index))
    pipe.unet.save_config(str(folder / "unet"))
    return folder


def _engine_with(pipe: Any, folder: Path, root: Path, target: Target) -> Any:
    """An engine whose pipeline cache already holds `pipe` for `folder` (no weights on disk)."""
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.previews.previewer import PreviewSettings
    from studio.engine.run.engine import Engine

    paths = StudioPaths.under(root / "studio")
    engine = Engine(ModelRegistry(paths), device=target.device, dtype=target.dtype,
                    previews=PreviewSettings(cache_dir=paths.cache_dir))
    engine.warm_up()
    cache = engine._cache
    key = (str(folder.resolve()), engine.device, str(engine.dtype), cache.memory)
    cache._pipes[key] = pipe
    return engine


def _time(fn: Any, repeats: int, target: Target = Target()) -> float:
    times = []
    for _ in range(repeats):
        target.sync()
        started = time.perf_counter()
        fn()
        target.sync()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _decoder_costs(pipe: Any, family: str, shape: tuple[int, ...], repeats: int,
                   target: Target = Target()) -> dict[str, float]:
    """Median seconds per preview of each decoder on latents of `shape` (values do not matter)."""
    import torch
    from diffusers import AutoencoderTiny

    from studio.engine.previews.decoders import FullDecoder, TinyDecoder
    from studio.engine.previews.linear import fit_linear, known_decoder

    torch.manual_seed(0)
    latents = torch.randn(shape)
    tiny_model = AutoencoderTiny(latent_channels=shape[0]).eval()  # TAESD's size
    if not target.on_cpu:
        latents = latents.to(target.device, target.torch_dtype())
        tiny_model = tiny_model.to(target.device, target.torch_dtype())
    linear = known_decoder(family, shape[0]) or fit_linear(pipe.vae)
    tiny = TinyDecoder(tiny_model)
    decoders = {"linear": linear, "tiny": tiny, "full": FullDecoder(pipe.vae)}
    out = {}
    for name, decoder in decoders.items():
        runs = {"linear": 5 * repeats, "tiny": repeats, "full": 1}[name]
        if name != "full" or not target.on_cpu:
            decoder.decode(latents)  # first-use costs (on a GPU the full VAE's too)
        out[name] = _time(lambda d=decoder: d.decode(latents), runs, target)
    return out


def _overhead(
    pipe: Any, engine: Any, folder: Path, request: Any, pairs: int, target: Target = Target()
) -> tuple[float, float]:
    """(% slower, median step seconds): the engine with previews on against bare pipe(...),
    interleaved bare-app, app-bare, ... so drift on a busy machine falls on both sides."""
    import torch

    from studio.engine.run.scheduling import build_scheduler

    base = pipe.scheduler.config
    bare_kwargs = dict(
        prompt=request.prompt, num_inference_steps=request.steps, guidance_scale=request.guidance,
        width=request.width, height=request.height, output_type="pil",
    )
    times: dict[str, list[float]] = {"bare": [], "app": []}
    steps: list[float] = []

    def bare() -> None:
        pipe.scheduler = build_scheduler(request.scheduler, base)
        pipe(**bare_kwargs, generator=[torch.Generator("cpu").manual_seed(request.seed)])

    def app() -> None:
        events: list[Any] = []
        outcome = engine.generate(request.replace(model=str(folder)), events.append)
        assert outcome.kind == "finished", outcome
        done = [e for e in events if e.kind == "step"]
        steps.extend(b.elapsed - a.elapsed - b.preview_seconds for a, b in itertools.pairwise(done))

    for i in range(pairs):
        order = (("bare", bare), ("app", app)) if i % 2 == 0 else (("app", app), ("bare", bare))
        for name, fn in order:
            target.sync()
            started = time.perf_counter()
            fn()
            target.sync()
            times[name].append(time.perf_counter() - started)
    pipe.scheduler = build_scheduler(request.scheduler, base)
    ratio = statistics.median(times["app"]) / statistics.median(times["bare"]) - 1
    return ratio * 100, statistics.median(steps)


def _measure(label: str, pipe: Any, family: str, folder: Path, engine: Any, request: Any,
             repeats: int, pairs: int, target: Target = Target()) -> dict[str, dict[str, Any]]:
    small = request.replace(model=str(folder), steps=1, width=64, height=64)
    engine.generate(small, lambda _e: None)  # first-use costs and the linear fit, if any
    if not target.on_cpu:  # kernels are chosen and compiled at the first run of each size
        engine.generate(request.replace(model=str(folder), steps=2), lambda _e: None)
    overhead, step = _overhead(pipe, engine, folder, request, pairs, target)
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    channels = int(pipe.vae.config.latent_channels)
    shape = (channels, request.height // factor, request.width // factor)
    costs = _decoder_costs(pipe, family, shape, repeats, target)
    size = f"{request.width}x{request.height}"
    step_ms = f"{step * 1000:.0f}" if target.on_cpu else f"{step * 1000:.1f}"
    places = 1 if target.on_cpu else 2  # a GPU preview takes hundredths of a millisecond
    figures = {
        f"{label} {name} preview cost": _figure(
            100 * cost / step, BUDGET_PCT[name],
            note=f"{cost * 1000:.{places}f} ms per preview, step {step_ms} ms, {size}, "
                 f"{target.label}",
        )
        for name, cost in costs.items()
    }
    figures[f"{label} app overhead vs bare diffusers"] = _figure(
        overhead, 2.0,
        note=f"{request.steps} steps, {size}, previews every step (auto), medians of {pairs} "
             "interleaved runs each",
    )
    return figures


def run(args: Any) -> dict[str, dict[str, Any]]:
    import torch

    from studio.config.paths import bundled_models_dir
    from studio.engine.run.request import GenerationRequest

    target = target_for(getattr(args, "device", None) or "cpu")
    torch.set_num_threads(2)
    quick = bool(getattr(args, "quick", False))
    # Figure names carry the device when it is not the CPU, so both can sit in one results file.
    where = "" if target.on_cpu else f" ({target.device} {target.dtype})"
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = bundled_models_dir() / DEMO_ID
        if (demo / "model_index.json").is_file():
            from studio.config.paths import StudioPaths
            from studio.engine.catalogue.registry import ModelRegistry
            from studio.engine.previews.previewer import PreviewSettings
            from studio.engine.run.engine import Engine

            paths = StudioPaths.under(root / "demo")
            engine = Engine(ModelRegistry(paths), device=target.device, dtype=target.dtype,
                            previews=PreviewSettings(cache_dir=paths.cache_dir))
            entry = engine.registry.resolve(DEMO_ID)
            pipe = engine.pipeline_for(entry)
            request = GenerationRequest(prompt="a red circle on a blue background", steps=10,
                                        width=64, height=64, seed=3, guidance=4.0)
            figures.update(_measure(f"demo{where}", pipe, entry.family, entry.path, engine,
                                    request, 5 if quick else 10, 4 if quick else 8, target))
        else:
            figures[f"demo{where} app overhead vs bare diffusers"] = _figure(
                None, 2.0, note="the bundled demo model is not installed")
        pipe = _sd15_pipe(target)
        folder = _config_folder(pipe, root / "sd15-architecture")
        engine = _engine_with(pipe, folder, root, target)
        if target.on_cpu:
            request = GenerationRequest(prompt="a lighthouse at dusk", steps=2, width=256,
                                        height=256, seed=3, guidance=7.0)
            repeats, pairs = (2, 2) if quick else (3, 4)
        else:  # the size and step count the GPU references in BENCHMARKS.md use
            request = GenerationRequest(prompt="a lighthouse at dusk", steps=10 if quick else 20,
                                        width=512, height=512, seed=3, guidance=7.0)
            repeats, pairs = (5, 4) if quick else (10, 8)
        figures.update(_measure(f"SD 1.5{where}", pipe, "SD 1.x", folder, engine, request,
                                repeats, pairs, target))
    return figures


if __name__ == "__main__":
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where to measure: the CPU in fp32 (default) or CUDA in fp16")
    for key, fig in run(parser.parse_args()).items():
        print(f"{key:45s} {fig['value']!s:>10} {fig['unit']:3s} target {fig['target']}  {fig['note']}")
