"""Prompt history on a 10,000-image gallery: the distinct-prompt queries the prompt box runs,
beside the gallery's own search, in one run. Prints a table and writes JSON."""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.bench_gallery import COUNT, make_synthetic_gallery
from studio.library.index import GalleryIndex

REPEATS = 21
OUT = Path(__file__).with_name("results_prompt_history.json")


def _median_ms(work: object) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    folder = make_synthetic_gallery(Path(tempfile.gettempdir()) / "studio-bench-gallery")
    with GalleryIndex(Path(tempfile.mkdtemp()) / "index.sqlite3", folder) as index:
        index.rebuild()
        figures = {
            "images": index.count(),
            "distinct prompts": len(index.prompts("", limit=COUNT)),
            "recent 200 (Up/Down), ms": _median_ms(lambda: index.prompts("", 200)),
            "search 'castle', 500 shown, ms": _median_ms(lambda: index.prompts("castle", 500)),
            "search 'a', 500 shown, ms": _median_ms(lambda: index.prompts("a", 500)),
            "gallery search 'castle' (rows), ms": _median_ms(lambda: index.rows(search="castle")),
        }
    for name, value in figures.items():
        print(f"{name:40} {value:10.2f}" if isinstance(value, float) else f"{name:40} {value:10}")
    OUT.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
