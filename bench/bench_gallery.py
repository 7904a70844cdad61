"""Gallery at scale: 10,000 PNGs with real metadata; index rebuild, search, thumbnails, memory.

    python bench/run.py --only gallery

The synthetic gallery is made once and kept in bench/gallery.tmp/ (ignored by git).
`make_synthetic_gallery` is shared with the gallery view's benchmark.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from studio.engine.run.request import GenerationRequest
from studio.engine.run.schedulers import SCHEDULER_NAMES
from studio.library.index import GalleryIndex
from studio.library.store import encode_png, file_name, save_image
from studio.library.thumbnails import ThumbnailCache

HERE = Path(__file__).resolve().parent
CACHE = HERE / "gallery.tmp"
COUNT = 10_000
THUMB_SIZE = 256
SUBJECTS = "fox owl castle lighthouse robot dragon forest city river mountain cat whale ship".split()
STYLES = "oil painting, watercolor, photograph, pixel art, ink sketch, 3d render, anime".split(", ")
DETAILS = "at dusk,in the snow,under neon lights,golden hour,misty morning,at night,in spring".split(",")


def make_synthetic_gallery(folder: Path, count: int = COUNT, seed: int = 0) -> Path:
    """`count` small PNGs with Studio metadata, one dated folder per day; reused if complete."""
    marker = folder / f".complete-{count}"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 9, 0, 0)
    for i in range(count):
        prompt = (
            f"a {rng.choice(STYLES)} of a {rng.choice(SUBJECTS)} {rng.choice(DETAILS)}, "
            f"{rng.choice(SUBJECTS)} in the background"
        )
        request = GenerationRequest(
            prompt=prompt,
            negative_prompt="blurry, lowres",
            seed=rng.randrange(2**32),
            steps=rng.choice((20, 25, 30)),
            guidance=rng.choice((5.0, 7.0, 7.5)),
            scheduler=rng.choice(SCHEDULER_NAMES),
            model="demo",
        )
        moment = start + timedelta(minutes=7 * i)
        color = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        image = Image.new("RGB", (64, 64), color)
        data = encode_png(image, request, created=moment.timestamp())
        target = folder / moment.strftime("%Y-%m-%d") / file_name(request, moment)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)  # a benchmark fixture: no fsync needed
    marker.touch()
    return folder


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    count = 1_000 if quick else COUNT
    t0 = time.perf_counter()
    folder = make_synthetic_gallery(CACHE / f"gallery-{count}", count)
    made_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="studio-bench-") as tmp:
        work = Path(tmp)
        figures = _measure(folder, work, count, quick)
    figures["gallery_peak_rss_mb"] = _figure(_peak_rss_mb(), None, "MB", "whole benchmark process")
    print(f"(synthetic gallery ready in {made_s:.1f} s)", file=sys.stderr)
    return figures


def _measure(folder: Path, work: Path, count: int, quick: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    rebuilds = []
    for attempt in range(1 if quick else 3):
        db = work / f"index-{attempt}.sqlite3"
        with GalleryIndex(db, folder) as index:
            t0 = time.perf_counter()
            report = index.rebuild()
            rebuilds.append(time.perf_counter() - t0)
            assert report.added == count, report
    figures["gallery_rebuild_s"] = _figure(
        statistics.median(rebuilds), None, "s", f"{count} files, median of {len(rebuilds)}"
    )
    db = work / "index-0.sqlite3"
    opens, reconciles, fetches = [], [], []
    for _ in range(3 if quick else 7):
        t0 = time.perf_counter()
        index = GalleryIndex(db, folder)
        t1 = time.perf_counter()
        index.reconcile()
        t2 = time.perf_counter()
        rows = index.rows()
        t3 = time.perf_counter()
        index.close()
        opens.append(t1 - t0)
        reconciles.append(t2 - t1)
        fetches.append(t3 - t2)
        assert len(rows) == count
    figures["gallery_index_open_ms"] = _figure(1000 * statistics.median(opens), None, "ms", "")
    figures["gallery_reconcile_ms"] = _figure(
        1000 * statistics.median(reconciles), None, "ms", "start-up check, nothing changed"
    )
    figures["gallery_rows_ms"] = _figure(
        1000 * statistics.median(fetches), None, "ms", f"all {count} rows for the view, newest first"
    )
    figures.update(_search(db, folder, quick))
    figures.update(_thumbnails(folder, work, quick))
    figures.update(_save_cost(work, quick))
    return figures


def _search(db: Path, folder: Path, quick: bool) -> dict[str, Any]:
    rng = random.Random(1)
    words = SUBJECTS + [s.split()[0] for s in STYLES] + ["neon", "snow", "mist", "gold", "ca", "li"]
    queries = [" ".join(rng.sample(words, rng.choice((1, 1, 2)))) for _ in range(50 if quick else 200)]
    latencies, hits = [], []
    with GalleryIndex(db, folder) as index:
        for query in queries:
            t0 = time.perf_counter()
            rows = index.rows(search=query)
            latencies.append(time.perf_counter() - t0)
            hits.append(len(rows))
    p95 = statistics.quantiles(latencies, n=20)[-1]
    note = f"median of {len(queries)} queries, rows returned; {statistics.median(hits):.0f} hits median"
    return {
        "gallery_search_ms": _figure(1000 * statistics.median(latencies), 50, "ms", note),
        "gallery_search_p95_ms": _figure(1000 * p95, 50, "ms", ""),
    }


def _thumbnails(folder: Path, work: Path, quick: bool) -> dict[str, Any]:
    cache = ThumbnailCache(work / "thumbs")
    with GalleryIndex(work / "index-0.sqlite3", folder) as index:
        paths = [row.path for row in index.rows()[: 60 if quick else 300]]
    cold, warm = [], []
    for path in paths:
        t0 = time.perf_counter()
        cache.make(path, THUMB_SIZE)
        cold.append(time.perf_counter() - t0)
    for path in paths:
        t0 = time.perf_counter()
        found = cache.lookup(path, THUMB_SIZE)
        warm.append(time.perf_counter() - t0)
        assert found is not None
    big = work / "big.png"
    _photo_like(1024).save(big, compress_level=1)
    big_cold = []
    for _ in range(5 if quick else 15):
        t0 = time.perf_counter()
        cache.make(big, THUMB_SIZE)
        big_cold.append(time.perf_counter() - t0)
    return {
        "thumbnail_cold_ms": _figure(1000 * statistics.median(cold), None, "ms", f"64x64 sources, {len(paths)} images"),
        "thumbnail_cold_1024_ms": _figure(1000 * statistics.median(big_cold), None, "ms", "1024x1024 PNG source"),
        "thumbnail_warm_lookup_ms": _figure(1000 * statistics.median(warm), None, "ms", ""),
    }


def _save_cost(work: Path, quick: bool) -> dict[str, Any]:
    """Studio's save beside Pillow's default and level-1 PNG writes, interleaved in one run."""
    import io

    image = _photo_like(1024)
    request = GenerationRequest("a save-cost probe", seed=1, width=1024, height=1024)
    times: dict[str, list[float]] = {"studio": [], "pillow_default": [], "pillow_level1": []}
    for _ in range(3 if quick else 9):
        t0 = time.perf_counter()
        save_image(image, request, work / "saves")
        times["studio"].append(time.perf_counter() - t0)
        for name, level in (("pillow_default", 6), ("pillow_level1", 1)):
            t0 = time.perf_counter()
            image.save(io.BytesIO(), format="PNG", compress_level=level)
            times[name].append(time.perf_counter() - t0)
    ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
    return {
        "save_1024_ms": _figure(ms["studio"], 70, "ms", "1024x1024, metadata, fsync, Studio's encoder"),
        "save_1024_pillow_default_ms": _figure(ms["pillow_default"], None, "ms", "encode only, level 6"),
        "save_1024_pillow_level1_ms": _figure(ms["pillow_level1"], None, "ms", "encode only, level 1"),
        "save_speedup_vs_pillow_default": {
            "value": round(ms["pillow_default"] / ms["studio"], 2), "target": None, "unit": "x",
            "better": "higher", "note": "same run, interleaved",
        },
    }


def _photo_like(size: int) -> Image.Image:
    """Smooth gradients with mild noise: compresses like a generated image, not like noise."""
    gradient = Image.radial_gradient("L").resize((size, size))
    noise = Image.effect_noise((size, size), 12)
    return Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_90)))


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


def _figure(value: float, target: float | None, unit: str, note: str) -> dict[str, Any]:
    return {"value": round(value, 3), "target": target, "unit": unit, "better": "lower", "note": note}
