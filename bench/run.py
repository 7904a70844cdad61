"""Run Studio's benchmarks, print a table, and write bench/results.json.

    python bench/run.py               # every benchmark
    python bench/run.py --only ui     # one of: see --help

Each bench/bench_<name>.py has `run(args) -> dict` mapping a figure's name to
{"value": number, "target": number | None, "unit": str, "better": "lower" | "higher", "note": str}.
Figures are ratios or medians measured side by side in one run; see shared/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=available(), help="run just this benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu", help="where benchmarks that support it measure (previews)"
    )
    parser.add_argument("--kills", type=int, default=20, help="kill -9 runs of `studio generate` (reliability)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in args.only or available():
        print(f"== {name}", flush=True)
        module = importlib.import_module(f"bench_{name}")
        started = time.perf_counter()
        figures = module.run(args)
        results[name] = {
            "figures": figures,
            "measured": time.strftime("%Y-%m-%d %H:%M"),
            "seconds": round(time.perf_counter() - started, 1),
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
            f"{_cores()} cores, Python {platform.python_version()}",
        }
        _print_table(name, figures)
        RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {RESULTS}")
    return 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _verdict(fig: dict) -> str:
    target, value = fig.get("target"), fig.get("value")
    if target is None or value is None:
        return ""
    ok = value >= target if fig.get("better") == "higher" else value <= target
    return "meets" if ok else "MISSES"


def _print_table(name: str, figures: dict) -> None:
    rows = [("figure", "value", "target", "unit", "")]
    for key, fig in figures.items():
        value = fig.get("value")
        target = fig.get("target")
        rows.append((
            key,
            "-" if value is None else f"{value:.4g}",
            "-" if target is None else f"{'>=' if fig.get('better') == 'higher' else '<='} {target:g}",
            fig.get("unit", ""),
            _verdict(fig),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    raise SystemExit(main())
