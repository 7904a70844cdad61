"""Mask painting: GUI latency per mouse move while painting a stroke, 2048x2048 against 512x512.

    python bench/bench_mask_paint.py            # prints a table, writes bench/mask_paint.json
    python bench/bench_mask_paint.py --quick

The editor runs in an offscreen window (1280x800) with the picture fitted to the view, and for
2048x2048 also zoomed to 400%. Each
mouse move is a real QMouseEvent sent to the canvas with the left button held; its latency runs
from sending the event to the end of the repaint it caused: `processEvents()` delivers the
canvas's update request, which paints only the dirty region, as on screen. The brush covers the
same share of the picture at both sizes (5% of its width), so both strokes look the same on
screen and the 2048 one touches 16x the mask pixels. A second mode repaints the whole canvas
after every move (`repaint()`), the cost a widget that does not track dirty regions would pay.
Press and release are timed apart: the press copies the mask for undo, the release keeps the
stroke's rectangle. With a soft edge the overlay is then re-blurred around the stroke, a tile per
event-loop pass: the time until it is whole and the longest pass meanwhile are reported too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

OUTPUT = HERE / "mask_paint.json"
WINDOW = (1280, 800)
SIZES = (512, 2048)
ZOOMED = 4.0  # a close-up: the same brush is four times as large on screen
TARGET_P99_MS = 16.0  # one frame at 60 Hz; see shared/BENCHMARKS.md, "mask painting"


def run(args: argparse.Namespace | None) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False))
    moves = 120 if quick else 300
    repeats = 2 if quick else 5
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from studio.ui.mask_editor import MaskEditor
    from studio.ui.theme import apply_theme

    app = QApplication.instance() or QApplication(["studio-bench"])
    apply_theme(app)  # type: ignore[arg-type]
    editor = MaskEditor()
    editor.resize(*WINDOW)
    editor.show()
    _settle(app)
    rows: list[dict[str, Any]] = []
    try:
        for size in SIZES:
            picture = _picture(size)
            _stroke(app, editor, picture, moves=20, soft_edge=0, full=False)  # warm-up
            for repeat in range(repeats):
                for full in (False, True):
                    result = _stroke(app, editor, picture, moves=moves, soft_edge=0, full=full)
                    rows.append({"size": size, "repeat": repeat, "mode": "full" if full else "dirty", **result})
                soft = _stroke(app, editor, picture, moves=moves, soft_edge=8, full=False)
                rows.append({"size": size, "repeat": repeat, "mode": "dirty+soft8", **soft})
                if size == SIZES[-1]:
                    zoomed = _stroke(app, editor, picture, moves=moves, soft_edge=0, full=False, zoom=ZOOMED)
                    rows.append({"size": size, "repeat": repeat, "mode": f"dirty@{ZOOMED:g}x", **zoomed})
    finally:
        editor.close()
        editor.deleteLater()
        app.processEvents()
    _print_rows(rows)
    return _figures(rows, moves, repeats)


def _picture(size: int) -> Any:
    """A picture with detail everywhere (so scaling it costs what a photograph costs)."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rgb = np.stack(
        [
            127 + 120 * np.sin(23 * x + 7 * y),
            127 + 120 * np.sin(31 * y - 5 * x),
            127 + 120 * np.cos(17 * (x + y)),
        ],
        axis=-1,
    )
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def _stroke(
    app: Any, editor: Any, picture: Any, *, moves: int, soft_edge: int, full: bool, zoom: float | None = None
) -> dict[str, Any]:
    """Paint one wavy stroke across the visible part of a fresh mask (fitted, or at `zoom`
    around the picture's centre); per-move latencies and press/release times."""
    from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
    from PySide6.QtGui import QMouseEvent

    canvas = editor.canvas
    editor.set_image(picture)
    editor.set_soft_edge(soft_edge)
    editor.set_brush_size(max(1, round(picture.width * 0.05)))
    if zoom is not None:
        canvas.set_zoom(zoom)
    _settle(app)
    _pump_until(app, editor.document.overlay.is_current)
    paints = _paint_counter(canvas)
    shown = QRectF(canvas.image_to_view(QPointF(0, 0)), canvas.image_to_view(QPointF(picture.width, picture.height)))
    shown = shown & QRectF(canvas.rect())

    def at(i: int) -> QPointF:
        t = i / moves
        wave = math.sin(6 * math.pi * t)
        return QPointF(shown.left() + shown.width() * (0.1 + 0.8 * t), shown.center().y() + 0.3 * shown.height() * wave)

    def send(kind: QEvent.Type, point: QPointF, button: Qt.MouseButton) -> float:
        held = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else Qt.MouseButton.LeftButton
        event = QMouseEvent(kind, point, canvas.mapToGlobal(point), button, held, Qt.KeyboardModifier.NoModifier)
        started = time.perf_counter()
        app.sendEvent(canvas, event)
        if full:
            canvas.repaint()
        app.processEvents()
        return 1000 * (time.perf_counter() - started)

    press = send(QEvent.Type.MouseButtonPress, at(0), Qt.MouseButton.LeftButton)
    painted_before = paints.count
    latencies = [send(QEvent.Type.MouseMove, at(i), Qt.MouseButton.NoButton) for i in range(1, moves + 1)]
    painted = paints.count - painted_before
    release = send(QEvent.Type.MouseButtonRelease, at(moves), Qt.MouseButton.LeftButton)
    # with a soft edge the overlay is re-blurred a tile per pass after the release: how long
    # until it is whole, and the longest pass of the event loop meanwhile
    settled = time.perf_counter()
    passes = _pump_until(app, editor.document.overlay.is_current)
    settle = 1000 * (time.perf_counter() - settled)
    mask = editor.raw_mask_image()
    assert mask.getbbox() is not None, "the stroke painted nothing"
    assert painted >= moves, f"only {painted} repaints for {moves} moves"
    canvas.removeEventFilter(paints)
    return {
        "p50_ms": _percentile(latencies, 50),
        "p95_ms": _percentile(latencies, 95),
        "p99_ms": _percentile(latencies, 99),
        "max_ms": max(latencies),
        "press_ms": press,
        "release_ms": release,
        "settle_ms": settle,
        "longest_pass_ms": max(passes, default=0.0),
        "paints": painted,
        "zoom": canvas.zoom(),
    }


def _paint_counter(widget: Any) -> Any:
    """An event filter on `widget` that counts its paint events."""
    from PySide6.QtCore import QEvent, QObject

    class PaintCounter(QObject):
        def __init__(self) -> None:
            super().__init__(widget)
            self.count = 0

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    counter = PaintCounter()
    widget.installEventFilter(counter)
    return counter


def _settle(app: Any, seconds: float = 0.1) -> None:
    """Let pending work finish (a soft-edge change re-blurs the overlay after a short pause)."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        app.processEvents()
        time.sleep(0.005)


def _pump_until(app: Any, done: Any, timeout: float = 30.0) -> list[float]:
    """Run the event loop until `done()`; the duration of each pass, in ms."""
    passes: list[float] = []
    deadline = time.perf_counter() + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the overlay was not re-blurred in time")
        started = time.perf_counter()
        app.processEvents()
        passes.append(1000 * (time.perf_counter() - started))
    return passes


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[index]


def _median(rows: list[dict[str, Any]], size: int, mode: str, key: str) -> float:
    return statistics.median(r[key] for r in rows if r["size"] == size and r["mode"] == mode)


def _figures(rows: list[dict[str, Any]], moves: int, repeats: int) -> dict[str, Any]:
    small, large = SIZES
    where = f"{moves} moves per stroke, median of {repeats} strokes, {WINDOW[0]}x{WINDOW[1]} offscreen"
    note = f"{where}, fitted"
    figures: dict[str, Any] = {}
    for size in SIZES:
        for q in ("p50", "p95", "p99"):
            target = TARGET_P99_MS if q == "p99" and size == large else None
            figures[f"mask_paint_{size}_move_{q}_ms"] = _figure(
                _median(rows, size, "dirty", f"{q}_ms"), target, "ms", f"event to dirty region repainted; {note}"
            )
    for q in ("p50", "p99"):
        ratio = _median(rows, large, "dirty", f"{q}_ms") / _median(rows, small, "dirty", f"{q}_ms")
        figures[f"mask_paint_{q}_ratio_{large}_to_{small}"] = _figure(
            ratio, None, "x", f"move latency {q}, {large}x{large} over {small}x{small} (16x the pixels)"
        )
    figures[f"mask_paint_{large}_zoomed_move_p99_ms"] = _figure(
        _median(rows, large, f"dirty@{ZOOMED:g}x", "p99_ms"),
        TARGET_P99_MS,
        "ms",
        f"at {ZOOMED:g}x zoom, the brush {round(large * 0.05 * ZOOMED)} screen pixels across; {where}",
    )
    figures[f"mask_paint_{large}_full_repaint_p50_ms"] = _figure(
        _median(rows, large, "full", "p50_ms"), None, "ms", f"whole canvas repainted after every move; {note}"
    )
    figures[f"mask_paint_{large}_soft_move_p99_ms"] = _figure(
        _median(rows, large, "dirty+soft8", "p99_ms"), TARGET_P99_MS, "ms", f"soft edge 8 px; {note}"
    )
    figures[f"mask_paint_{large}_press_ms"] = _figure(
        _median(rows, large, "dirty", "press_ms"), None, "ms", "stroke start: the mask copied for undo"
    )
    figures[f"mask_paint_{large}_release_ms"] = _figure(
        _median(rows, large, "dirty", "release_ms"), None, "ms", "stroke end: its rectangle kept as one undo step"
    )
    figures[f"mask_paint_{large}_release_soft_ms"] = _figure(
        _median(rows, large, "dirty+soft8", "release_ms"), None, "ms", "stroke end with soft edge 8 px"
    )
    figures[f"mask_paint_{large}_soft_settle_ms"] = _figure(
        _median(rows, large, "dirty+soft8", "settle_ms"),
        None,
        "ms",
        "after that release, until the overlay is re-blurred around the stroke (a tile per event-loop pass)",
    )
    figures[f"mask_paint_{large}_soft_longest_pass_ms"] = _figure(
        _median(rows, large, "dirty+soft8", "longest_pass_ms"),
        TARGET_P99_MS,
        "ms",
        "the longest event-loop pass while it re-blurs: how long input can wait meanwhile",
    )
    return figures


def _figure(value: float, target: float | None, unit: str, note: str) -> dict[str, Any]:
    return {
        "value": round(value, 3), "target": target, "unit": unit, "better": "lower", "note": note,
    }  # fmt: skip


def _print_rows(rows: list[dict[str, Any]]) -> None:
    header = (
        "size", "mode", "repeat", "p50 ms", "p95 ms", "p99 ms", "max ms", "press ms", "release ms",
        "settle ms", "longest pass ms", "zoom",
    )  # fmt: skip
    table = [header]
    for r in rows:
        table.append((
            f"{r['size']}", r["mode"], f"{r['repeat']}",
            *(f"{r[k]:.2f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "press_ms", "release_ms")),
            f"{r['settle_ms']:.2f}", f"{r['longest_pass_ms']:.2f}",
            f"{r['zoom']:.3f}",
        ))  # fmt: skip
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer moves and repeats, for a smoke run")
    parser.add_argument("--json", type=Path, default=OUTPUT, help=f"where the figures go (default {OUTPUT.name})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = run(args)
    print()
    for name, fig in figures.items():
        target = "" if fig["target"] is None else f"target <= {fig['target']:g}"
        print(f"{name:38} {fig['value']:>9.3f} {fig['unit']:3} {target:16} {fig['note']}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    result = {
        "figures": figures,
        "measured": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {cores} cores, Python {platform.python_version()}",
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
    }
    args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
