"""What LoRAs cost on the bundled demo model, side by side in one run: the step with 0, 1 and 3
LoRAs, unfused and fused; changing only a weight against loading a new file.

Run: python bench/bench_loras.py [--repeats 5] [--steps 8] [--threads 2] [--json bench/results_loras.json]
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

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "resources" / "models" / "studio-shapes"
PROMPT = "a red circle on a blue background"


def _write_loras(models_dir: Path, count: int) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.tiny_loras import write_diffusers_lora

    for i in range(count):
        write_diffusers_lora(models_dir / "loras" / f"style{i}.safetensors", FOLDER, rank=16, seed=i, scale=0.05)


def _step_seconds(engine: Any, prompt: str, steps: int, repeats: int) -> list[float]:
    from studio.engine.run.events import Finished
    from studio.engine.run.request import GenerationRequest

    request = GenerationRequest(prompt, seed=1, steps=steps, width=64, height=64)
    engine.generate(request, lambda _e: None)  # loads and fuses outside the timing
    per_step = []
    for _ in range(repeats):
        outcome = engine.generate(request, lambda _e: None)
        assert isinstance(outcome, Finished), outcome
        per_step.append(outcome.elapsed / steps)
    return per_step


def _seconds(call: Any) -> float:
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    torch.set_num_threads(args.threads)
    home = Path(tempfile.mkdtemp(prefix="studio-bench-loras-"))
    paths = StudioPaths.under(home)
    _write_loras(paths.models_dir, 4)
    prompts = {0: PROMPT, 1: f"{PROMPT} <lora:style0:0.8>",
               3: f"{PROMPT} <lora:style0:0.8> <lora:style1:0.5> <lora:style2:0.5>"}
    rows: dict[str, Any] = {}
    for fused in (False, True):
        engine = Engine(ModelRegistry(paths), device="cpu", fuse_loras=fused)
        for count, prompt in prompts.items():
            times = _step_seconds(engine, prompt, args.steps, args.repeats)
            rows[f"{count} LoRAs{' fused' if fused else ''}"] = {
                "step_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
    base = rows["0 LoRAs"]["step_s"]
    for row in rows.values():
        row["vs_no_lora"] = row["step_s"] / base

    from studio.engine.run.request import GenerationRequest

    engine = Engine(ModelRegistry(paths), device="cpu")
    one = GenerationRequest(f"{PROMPT} <lora:style0:0.8>", seed=1, steps=1, width=64, height=64)
    entry = engine.registry.resolve("")
    pipe = engine.pipeline_for(entry)
    engine.use_addons(entry, pipe, one)
    weight_changes = [_seconds(lambda w=w: engine.use_addons(entry, pipe, one.replace(
        prompt=f"{PROMPT} <lora:style0:{w}>"))) for w in (0.1, 0.2, 0.3, 0.4, 0.5)]
    new_files = []
    for i in range(1, 4):
        new_files.append(_seconds(lambda i=i: engine.use_addons(entry, pipe, one.replace(
            prompt=f"{PROMPT} <lora:style{i}:0.8>"))))
    switch = {"weight_change_s": statistics.median(weight_changes), "new_file_s": statistics.median(new_files)}
    switch["new_file_vs_weight_change"] = switch["new_file_s"] / switch["weight_change_s"]
    figures = {"model": "studio-shapes (demo), 64x64, rank-16 LoRAs on attention and text encoder",
               "threads": args.threads, "repeats": args.repeats, "steps": args.steps,
               "step": rows, "switch": switch}
    _print(figures)
    return figures


def _print(figures: dict[str, Any]) -> None:
    print(f"{'run':<18}{'ms/step':>10}{'min':>8}{'max':>8}{'x no LoRA':>11}")
    for name, row in figures["step"].items():
        print(f"{name:<18}{row['step_s'] * 1e3:>10.2f}{row['min_s'] * 1e3:>8.2f}{row['max_s'] * 1e3:>8.2f}"
              f"{row['vs_no_lora']:>11.2f}")
    s = figures["switch"]
    print(f"weight change {s['weight_change_s'] * 1e3:.2f} ms, new file {s['new_file_s'] * 1e3:.1f} ms "
          f"({s['new_file_vs_weight_change']:.0f}x)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results_loras.json")
    args = parser.parse_args(argv)
    figures = run(args)
    args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
