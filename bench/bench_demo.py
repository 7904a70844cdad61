"""Speed of the bundled demo model on this machine: load, per step, one 64x64 image at 20 steps.

Run: python bench/bench_demo.py [--repeats 5] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parents[1] / "resources" / "models" / "studio-shapes"


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from diffusers import StableDiffusionPipeline

    torch.set_num_threads(getattr(args, "threads", 2))
    repeats = getattr(args, "repeats", 5)
    folder = Path(getattr(args, "model", FOLDER))
    guidance = json.loads((folder / "studio.json").read_text())["defaults"]["guidance"]

    loads = []
    for _ in range(3):
        t0 = time.perf_counter()
        pipe = StableDiffusionPipeline.from_pretrained(str(folder), dtype=torch.float32)
        loads.append(time.perf_counter() - t0)
    pipe.set_progress_bar_config(disable=True)

    step_times: list[float] = []
    last = [0.0]

    def on_step(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        now = time.perf_counter()
        if i > 0:
            step_times.append(now - last[0])
        last[0] = now
        return kw

    def image(steps: int, callback: Any = None) -> float:
        gen = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        last[0] = t0
        with torch.no_grad():
            pipe(
                "a yellow star on a purple background",
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=gen,
                height=64,
                width=64,
                output_type="np",
                callback_on_step_end=callback,
            )
        return time.perf_counter() - t0

    image(20)  # warm-up
    totals = [image(20) for _ in range(repeats)]
    image(20, on_step)
    figures = {
        "model": folder.name,
        "threads": torch.get_num_threads(),
        "guidance": guidance,
        "load_s": statistics.median(loads),
        "step_ms": 1000 * statistics.median(step_times),
        "image_20_steps_s": statistics.median(totals),
        "repeats": repeats,
    }
    return figures


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", type=Path, default=FOLDER)
    p.add_argument("--json", type=Path, default=None)
    figures = run(p.parse_args())
    for k, v in figures.items():
        print(f"{k:18s} {v:.3f}" if isinstance(v, float) else f"{k:18s} {v}")
    args = p.parse_args()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
