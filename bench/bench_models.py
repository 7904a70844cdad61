"""Model switch time: a cold load (folder and single file) against a switch within the warm cache.

Tiny models built from configs, so the figures show Studio's loading overhead rather than disk
speed; a real SD 1.5 load adds reading its 2-4 GB of weights.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any


def _engine(root: Path, cache_size: int) -> Any:
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    return Engine(ModelRegistry(StudioPaths.under(root / "studio")), cache_size=cache_size)


def _switch_seconds(engine: Any, models: list[Path], rounds: int) -> list[float]:
    times = []
    for i in range(rounds):
        entry = engine.registry.resolve(str(models[i % len(models)]))
        started = time.perf_counter()
        engine.pipeline_for(entry)
        times.append(time.perf_counter() - started)
    return times


def run(args: Any) -> dict[str, dict[str, Any]]:
    import torch

    from tests.tiny_families import build_tiny_checkpoint
    from tests.tiny_models import build_tiny_sd

    torch.set_num_threads(2)
    rounds = 4 if getattr(args, "quick", False) else 12
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders = [build_tiny_sd(root / f"sd{i}", seed=i) for i in range(2)]
        single, _config, _source = build_tiny_checkpoint(root / "single")
        _switch_seconds(_engine(root, 1), folders, 2)  # imports and first-use costs

        cold = _switch_seconds(_engine(root, 1), folders, rounds)  # every switch reloads
        cold_file = _switch_seconds(_engine(root, 1), [single, folders[0]], rounds)[0::2]
        warm_engine = _engine(root, 2)
        _switch_seconds(warm_engine, folders, 2)
        warm = _switch_seconds(warm_engine, folders, rounds)
    cold_s, file_s, warm_s = (statistics.median(x) for x in (cold, cold_file, warm))
    return {
        "cold_switch_folder": _figure(cold_s * 1000, "ms", "lower", "cache of 1: each switch loads"),
        "cold_switch_single_file": _figure(file_s * 1000, "ms", "lower",
                                           "LDM-layout .safetensors, shipped-config assembly"),
        "warm_switch": _figure(warm_s * 1000, "ms", "lower", "cache of 2: switch between warm"),
        "warm_vs_cold": _figure(warm_s / cold_s, "ratio", "lower", "warm switch / cold load"),
    }


def _figure(value: float, unit: str, better: str, note: str) -> dict[str, Any]:
    return {"value": round(value, 4), "target": None, "unit": unit, "better": better,
            "note": note}
