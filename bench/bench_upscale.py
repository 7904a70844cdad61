"""Tiled against untiled upscaling: time and peak memory on a tiny 2x ESRGAN (random weights).

    python bench/bench_upscale.py            # 1024x1024, 3 repeats; writes bench/results_upscale.json
    python bench/bench_upscale.py --quick    # 768x768, 2 repeats
    python bench/run.py --only upscale       # the same figures, into bench/results.json

Each measurement runs in a fresh process, tiled and untiled taking turns, so that one run's
freed memory cannot lower the next one's peak. Memory is the rise of the process's peak
resident set (VmHWM) over what it held just before the upscale: torch's allocations included,
which tracemalloc would not see. The tiny model costs far less per pixel than a real ESRGAN,
but its activations grow with the tile's area the same way, so the memory ratio carries over.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results_upscale.json"
# The tile size passed to upscale: None chooses from the image's size (tiles of up to 512), 0 is one tile.
MODES = {"tiled": None, "tiled_256": 256, "untiled": 0}


def run(args: Any) -> dict[str, dict[str, Any]]:
    quick = getattr(args, "quick", False)
    size = getattr(args, "size", None) or (768 if quick else 1024)
    repeats = getattr(args, "repeats", None) or (2 if quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        sys.path.insert(0, str(HERE.parent))
        from tests.tiny_upscalers import build_tiny_esrgan

        model = build_tiny_esrgan(Path(tmp) / "upscalers" / "tiny-2x.safetensors", scale=2)
        measured: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
        for _ in range(repeats):
            for mode in MODES:
                measured[mode].append(_measure_in_child(mode, model, size))
    seconds = {mode: statistics.median(m["seconds"] for m in runs) for mode, runs in measured.items()}
    peak = {mode: statistics.median(m["peak_mb"] for m in runs) for mode, runs in measured.items()}
    tiles = {mode: int(runs[0]["tiles"]) for mode, runs in measured.items()}
    note = f"{size}x{size} to {2 * size}x{2 * size}, tiny 2x ESRGAN, CPU fp32, median of {repeats}"
    figures: dict[str, dict[str, Any]] = {}
    for mode in MODES:
        figures[f"{mode}_seconds"] = _figure(seconds[mode], "s", "lower", f"{tiles[mode]} tiles; {note}")
    for mode in MODES:
        figures[f"{mode}_peak_memory"] = _figure(peak[mode], "MB", "lower", f"peak RSS rise, {tiles[mode]} tiles")
    for mode in MODES:
        if mode != "untiled":
            figures[f"{mode}_vs_untiled_time"] = _figure(
                seconds[mode] / seconds["untiled"], "ratio", "lower",
                "time against one tile (overlaps add work; small tiles stay in cache)",
            )
            figures[f"{mode}_vs_untiled_memory"] = _figure(
                peak[mode] / peak["untiled"], "ratio", "lower", "peak memory rise against one tile"
            )
    return figures


def _measure_in_child(mode: str, model: Path, size: int) -> dict[str, float]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, "--model", str(model),
               "--size", str(size)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=HERE.parent,
                          env=_child_env())
    if done.returncode != 0:
        raise RuntimeError(f"the {mode} measurement failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _child_env() -> dict[str, str]:
    import os

    return os.environ | {"PYTHONPATH": str(HERE.parent), "HF_HUB_OFFLINE": "1"}


def _child(mode: str, model: Path, size: int) -> dict[str, float]:
    """One upscale in this process: seconds, tiles, and how far the peak RSS rose during it."""
    import numpy as np
    import torch
    from PIL import Image

    from studio.engine.upscale.tiles import auto_tile_size, plan_tiles
    from studio.engine.upscale.upscale import upscale_with
    from studio.engine.upscale.weights import load_upscale_model

    torch.set_num_threads(2)
    loaded = load_upscale_model(model, None)
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    upscale_with(loaded, image.resize((64, 64)), 2, device="cpu")  # first-call costs, off the clock
    tile = MODES[mode]
    tiles = len(plan_tiles(size, size, auto_tile_size(size, size) if tile is None else tile))
    before = _reset_peak()
    started = time.perf_counter()
    result = upscale_with(loaded, image, 2, device="cpu", tile=tile)
    seconds = time.perf_counter() - started
    assert result.size == (2 * size, 2 * size)
    return {"seconds": seconds, "peak_mb": (_status_kb("VmHWM") - before) / 1024, "tiles": tiles}


def _reset_peak() -> int:
    """Reset the peak resident set to the current one (Linux's clear_refs) and return it, in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


def _figure(value: float, unit: str, better: str, note: str) -> dict[str, Any]:
    return {"value": round(value, 4), "target": None, "unit": unit, "better": better, "note": note}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="768x768, 2 repeats")
    parser.add_argument("--size", type=int, help="side of the square test image (default 1024)")
    parser.add_argument("--repeats", type=int, help="measurements of each mode (default 3)")
    parser.add_argument("--child", choices=tuple(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.model, args.size)))
        return 0
    started = time.perf_counter()
    figures = run(args)
    _print_table(figures)
    RESULTS.write_text(json.dumps({"upscale": {
        "figures": figures,
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}",
    }}, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {RESULTS}")
    return 0


def _print_table(figures: dict[str, dict[str, Any]]) -> None:
    rows = [("figure", "value", "unit", "note")]
    rows += [(name, f"{fig['value']:.4g}", fig["unit"], fig["note"]) for name, fig in figures.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    raise SystemExit(main())
