"""OpenVINO (through optimum-intel) against diffusers on the CPU, side by side in one run.

    pip install "optimum-intel[openvino]"      # not one of Studio's dependencies
    python bench/bench_openvino.py [--quick]

The same model folders as bench_fast (the demo at 64x64, SD 1.5's UNet with random weights at
256x256) are exported to OpenVINO once, reshaped to a static size, and run with the same latents
as the diffusers pipeline. A step's time is the difference between a run of 2N and one of N steps,
divided by N, so the text encoder and the VAE decode fall out. Without OpenVINO installed the
benchmark says so and measures nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results_openvino.json"
PROMPT = "a red circle on a blue background"


def _step_ms(call: Any, steps: int, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call(steps)
        t1 = time.perf_counter()
        call(2 * steps)
        t2 = time.perf_counter()
        samples.append(1000 * ((t2 - t1) - (t1 - t0)) / steps)
    return samples


def measure(name: str, folder: Path, size: int, steps: int, repeats: int, cache: Path) -> dict[str, Any]:
    import numpy as np
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
    from optimum.intel import OVStableDiffusionPipeline

    torch_pipe = StableDiffusionPipeline.from_pretrained(str(folder), safety_checker=None, torch_dtype=torch.float32)
    torch_pipe.scheduler = EulerDiscreteScheduler.from_config(torch_pipe.scheduler.config)
    torch_pipe.set_progress_bar_config(disable=True)
    exported = cache / f"{name}-openvino"
    if not (exported / "model_index.json").is_file():
        OVStableDiffusionPipeline.from_pretrained(str(folder), export=True, compile=False).save_pretrained(exported)
    ov_pipe = OVStableDiffusionPipeline.from_pretrained(str(exported), compile=False)
    ov_pipe.scheduler = EulerDiscreteScheduler.from_config(ov_pipe.scheduler.config)
    ov_pipe.reshape(batch_size=1, height=size, width=size, num_images_per_prompt=1)
    ov_pipe.compile()
    ov_pipe.set_progress_bar_config(disable=True)
    scale = torch_pipe.vae_scale_factor
    latents = torch.randn((1, torch_pipe.unet.config.in_channels, size // scale, size // scale),
                          generator=torch.Generator().manual_seed(3))

    def run_torch(n: int) -> Any:
        return torch_pipe(PROMPT, num_inference_steps=n, guidance_scale=2.0, height=size, width=size,
                          latents=latents.clone()).images[0]

    def run_ov(n: int) -> Any:
        return ov_pipe(PROMPT, num_inference_steps=n, guidance_scale=2.0, height=size, width=size,
                       latents=latents.clone()).images[0]

    run_torch(2)  # warm both before timing
    run_ov(2)
    torch_ms, ov_ms = [], []
    for _ in range(repeats):  # turns: the two see the same machine load
        torch_ms += _step_ms(run_torch, steps, 1)
        ov_ms += _step_ms(run_ov, steps, 1)
    a = np.asarray(run_torch(steps), dtype=np.int16)
    b = np.asarray(run_ov(steps), dtype=np.int16)
    diff = np.abs(a - b)
    return {
        "model": name, "size": size,
        "torch_step_ms": statistics.median(torch_ms), "openvino_step_ms": statistics.median(ov_ms),
        "torch_range": [min(torch_ms), max(torch_ms)], "openvino_range": [min(ov_ms), max(ov_ms)],
        "max_pixel_difference": int(diff.max()), "mean_pixel_difference": float(diff.mean()),
    }


def run(args: Any) -> dict[str, dict[str, Any]]:
    try:
        import optimum.intel  # noqa: F401
    except ImportError:
        print("bench_openvino: optimum-intel is not installed (pip install \"optimum-intel[openvino]\"); skipped")
        return {}
    sys.path.insert(0, str(HERE))
    from bench_fast import DEMO, build_sd15

    quick = getattr(args, "quick", False)
    cache = Path(tempfile.gettempdir()) / "studio-bench-fast-models"
    cache.mkdir(parents=True, exist_ok=True)
    configs = [("demo", DEMO, 64), ("sd15", build_sd15(cache / "sd15-256", full_vae=False), 256)]
    rows = [measure(name, folder, size, 2 if quick else 4, 2 if quick else 3, cache) for name, folder, size in configs]
    figures: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = f"{row['model']}_{row['size']}"
        ratio = row["torch_step_ms"] / row["openvino_step_ms"]
        note = (f"torch {row['torch_step_ms']:.1f} ms, OpenVINO {row['openvino_step_ms']:.1f} ms a step; "
                f"pixels max {row['max_pixel_difference']} / mean {row['mean_pixel_difference']:.2f} levels apart")
        figures[f"{key}_openvino_speedup"] = {"value": round(ratio, 3), "unit": "ratio", "better": "higher",
                                              "target": None, "note": note}
        print(f"{key:<10} torch {row['torch_step_ms']:8.1f} ms  OpenVINO {row['openvino_step_ms']:8.1f} ms  "
              f"x{ratio:.2f}  {note.split('; ')[1]}")
    RESULTS.write_text(json.dumps({"rows": rows, "figures": figures,
                                   "measured": time.strftime("%Y-%m-%d %H:%M")}, indent=2) + "\n")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
