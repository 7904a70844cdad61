"""Kill -9 during saves: the real `studio generate` on the demo model, killed N times.

    python bench/run.py --only reliability              # 20 kills
    python bench/run.py --only reliability --kills 50
    python bench/run.py --only reliability --quick      # 5 kills

The loop and its checks are those of tests/test_reliability.py: after each kill every PNG must
be whole with its metadata, no temporary file may show in the gallery, and a fresh Gallery
must index exactly the files. The last figures say where the kills landed in the runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_reliability import BATCH, plan_kills, run_kill_loop

DEFAULT_KILLS = 20
SEED = 1


def _figure(value: float, unit: str, note: str, target: float | None = None, better: str = "lower") -> dict[str, Any]:
    return {"value": value, "target": target, "unit": unit, "better": better, "note": note}


def run(args: argparse.Namespace) -> dict[str, Any]:
    kills = 5 if getattr(args, "quick", False) else getattr(args, "kills", None) or DEFAULT_KILLS
    plans = plan_kills(kills, seed=SEED)
    durations: list[float] = []
    last = [time.perf_counter()]

    def on_kill(done: int) -> None:
        now = time.perf_counter()
        durations.append(now - last[0])
        last[0] = now
        print(f"  kill {done}/{kills}: {plans[done - 1].describe()}", flush=True)

    with tempfile.TemporaryDirectory(prefix="studio-bench-kill-") as tmp:
        tally = run_kill_loop(Path(tmp) / "home", plans, on_kill)
    for problem in tally.problems():
        print(f"  PROBLEM: {problem}")
    complete = len(tally.pngs) - len(tally.broken)
    landed = tally.new_per_run
    return {
        "kills": _figure(len(tally.killed), "runs", "runs ended by SIGKILL", kills, "higher"),
        "pngs_found": _figure(len(tally.pngs), "files", "PNGs in the folders over the loop", better="higher"),
        "pngs_complete_with_metadata": _figure(
            complete, "files", "verify + load pass, parameters and studio chunks present", len(tally.pngs), "higher"
        ),
        "pngs_lost": _figure(len(tally.lost), "files", "printed as saved but missing", 0),
        "pngs_wrong_mode": _figure(len(tally.wrong_mode), "files", "not 0644 under umask 022", 0),
        "temporaries_visible": _figure(len(tally.temporaries_listed), "files", "temporary files in the gallery", 0),
        "index_mismatches": _figure(len(tally.mismatches), "paths", "index vs files after reconcile", 0),
        "temporaries_hidden_cleaned": _figure(
            tally.temporaries_hidden, "files", "left by kills mid-write, removed by remove_stale_temporaries"
        ),
        "kills_before_any_save": _figure(sum(n == 0 for n in landed), "runs", "killed runs that left no PNG"),
        "kills_mid_batch": _figure(sum(0 < n < BATCH for n in landed), "runs", f"left 1 to {BATCH - 1} of {BATCH}"),
        "kills_after_all_saved": _figure(sum(n == BATCH for n in landed), "runs", "killed while exiting"),
        "run_median_s": _figure(round(statistics.median(durations), 2), "s", "one run, kill and checks"),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=DEFAULT_KILLS)
    for name, fig in run(parser.parse_args()).items():
        print(f"{name:30} {fig['value']:>8} {fig['unit']:6} {fig['note']}")
