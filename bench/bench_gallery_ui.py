"""The gallery view at 10,000 images: open, first screen of thumbnails, scrolling, memory.

    python bench/run.py --only gallery_ui

Reuses the synthetic gallery that bench_gallery.py makes (bench/gallery.tmp/). The view runs on
the offscreen Qt platform; times are medians of several opens, each with a fresh panel (an empty
in-memory cache). "Cold" starts from an empty disk thumbnail cache, "warm" from a full one.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from bench_gallery import CACHE, COUNT, make_synthetic_gallery  # noqa: E402

OPEN_TARGET_MS = 500
FIRST_SCREEN_TARGET_MS = 300
WINDOW = (1280, 800)
TIMEOUT_S = 60


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    count = 1_000 if quick else COUNT
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from studio.ui.theme import apply_theme

    app = QApplication.instance() or QApplication(["studio-bench"])
    apply_theme(app)  # type: ignore[arg-type]
    folder = make_synthetic_gallery(CACHE / f"gallery-{count}", count)
    with tempfile.TemporaryDirectory(prefix="studio-bench-ui-") as tmp:
        return _measure(app, folder, Path(tmp), count, quick)


def _measure(app: Any, folder: Path, work: Path, count: int, quick: bool) -> dict[str, Any]:
    from studio.library.gallery import Gallery

    index_file = work / "index.sqlite3"
    with Gallery(folder, index_file, work / "thumbs-setup") as gallery:
        gallery.index.rebuild()
    rss_before = _current_rss_mb()
    repeats = 2 if quick else 5
    opens, colds, warms, visible = [], [], [], 0
    for attempt in range(repeats):
        thumbs = work / f"thumbs-{attempt}"
        with Gallery(folder, index_file, thumbs) as gallery:
            opened, cold, visible = _open_and_fill(app, gallery)
            opens.append(opened)
            colds.append(cold)
            _, warm, _ = _open_and_fill(app, gallery)  # same disk cache, fresh panel
            warms.append(warm)
    with Gallery(folder, index_file, work / "thumbs-scroll") as gallery:
        scroll = _scroll_through(app, gallery, quick)
    note = f"{count} images, {WINDOW[0]}x{WINDOW[1]} offscreen, median of {repeats}"
    figures = {
        "gallery_ui_open_ms": _figure(
            statistics.median(opens),
            OPEN_TARGET_MS,
            "ms",
            f"panel built, rows loaded, grid painted; {note}",
        ),
        "gallery_ui_first_screen_cold_ms": _figure(
            statistics.median(colds),
            FIRST_SCREEN_TARGET_MS,
            "ms",
            f"from show to {visible} visible thumbnails painted, empty disk cache; {note}",
        ),
        "gallery_ui_first_screen_warm_ms": _figure(
            statistics.median(warms),
            FIRST_SCREEN_TARGET_MS,
            "ms",
            f"same, thumbnails on disk, empty memory cache; {note}",
        ),
    }
    figures.update(scroll)
    figures["gallery_ui_rss_growth_mb"] = _figure(
        _current_rss_mb() - rss_before, None, "MB", "resident memory added by the views and caches"
    )
    figures["gallery_ui_peak_rss_mb"] = _figure(_peak_rss_mb(), None, "MB", "whole process")
    return figures


def _open_and_fill(app: Any, gallery: Any) -> tuple[float, float, int]:
    """(ms to open and paint the grid, ms from show to the first screen of thumbnails, visible)."""
    from studio.ui.gallery import GalleryPanel

    painted = _paint_probe()
    t0 = time.perf_counter()
    panel = GalleryPanel(gallery, threads=2)
    panel.resize(*WINDOW)
    panel.view.viewport().installEventFilter(painted)
    panel.show()
    shown = time.perf_counter()
    _pump_until(app, lambda: painted.count > 0)
    opened = time.perf_counter()
    rows = _visible_rows(panel)
    _pump_until(app, lambda: _filled(panel, rows))
    before = painted.count
    panel.view.viewport().repaint()  # the screen as the user sees it, every tile filled
    filled = time.perf_counter()
    assert painted.count > before
    _dispose(app, panel)
    return 1000 * (opened - t0), 1000 * (filled - shown), len(rows)


def _scroll_through(app: Any, gallery: Any, quick: bool) -> dict[str, Any]:
    """Page down through the whole grid without waiting for thumbnails: the cost of a frame,
    then how long the last screen takes to fill after that fling (LIFO: it loads first)."""
    from studio.ui.gallery import GalleryPanel

    panel = GalleryPanel(gallery, threads=2)
    panel.resize(*WINDOW)
    panel.show()
    bar = panel.view.verticalScrollBar()
    _pump_until(app, lambda: _laid_out(panel))  # the grid lays out in batches: wait for all
    app.processEvents()
    step = max(1, bar.pageStep())
    frames = []
    for value in range(0, bar.maximum() + step, step):
        t0 = time.perf_counter()
        bar.setValue(min(value, bar.maximum()))
        panel.view.viewport().repaint()
        frames.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    rows = _visible_rows(panel)
    _pump_until(app, lambda: _filled(panel, rows))
    settle = time.perf_counter() - t0
    _dispose(app, panel)
    p95 = statistics.quantiles(frames, n=20)[-1] if len(frames) >= 20 else max(frames)
    pages = f"{len(frames)} pages"
    return {
        "gallery_ui_scroll_frame_ms": _figure(
            1000 * statistics.median(frames), None, "ms", f"median scroll + repaint, {pages}"
        ),
        "gallery_ui_scroll_frame_p95_ms": _figure(1000 * p95, None, "ms", pages),
        "gallery_ui_after_fling_ms": _figure(
            1000 * settle, None, "ms", f"last screen filled after paging {pages}, cold cache"
        ),
    }


def _dispose(app: Any, panel: Any) -> None:
    """Close a panel and free it now (its rows and pixmaps), as closing the app would."""
    from PySide6.QtCore import QCoreApplication, QEvent

    panel.shutdown()
    panel.close()
    panel.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()


def _filled(panel: Any, rows: list[int]) -> bool:
    return all(panel.loader.cached(panel.model.row_at(r).file) for r in rows)


def _laid_out(panel: Any) -> bool:
    last = panel.model.index(panel.model.rowCount() - 1)
    return panel.view.visualRect(last).isValid() and panel.view.verticalScrollBar().maximum() > 0


def _visible_rows(panel: Any) -> list[int]:
    viewport = panel.view.viewport().rect()
    first = panel.view.indexAt(viewport.topLeft())
    rows = []
    row = max(0, first.row())
    while row < panel.model.rowCount():
        rect = panel.view.visualRect(panel.model.index(row))
        if rect.top() > viewport.bottom():
            break
        if rect.intersects(viewport):
            rows.append(row)
        row += 1
    return rows


def _pump_until(app: Any, done: Any) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.perf_counter() + TIMEOUT_S
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the gallery view did not get there in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)


def _paint_probe() -> Any:
    """An event filter that counts the paint events of the widget it watches."""
    from PySide6.QtCore import QEvent, QObject

    class PaintProbe(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    return PaintProbe()


def _current_rss_mb() -> float:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return _peak_rss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def _figure(value: float, target: float | None, unit: str, note: str) -> dict[str, Any]:
    return {
        "value": round(value, 3), "target": target, "unit": unit, "better": "lower", "note": note,
    }  # fmt: skip


if __name__ == "__main__":
    parsed = argparse.ArgumentParser(description=__doc__)
    parsed.add_argument("--quick", action="store_true")
    for name, fig in run(parsed.parse_args()).items():
        target = fig["target"]
        print(f"{name:34} {fig['value']:>9.2f} {fig['unit']:3} target {target}  {fig['note']}")
