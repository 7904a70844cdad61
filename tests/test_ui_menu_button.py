"""The Styles button's menu arrow sits at the right, centred on the text's line, with a gap
before the text: not in the bottom corner over its last letter."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QGuiApplication

from studio.config.paths import StudioPaths
from tests.ui_helpers import OFFSCREEN_NOISE, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)

BRIGHT = 150  # text and arrow are light on the dark button


def test_the_styles_arrow_has_its_own_place(qtbot, tmp_path: Path, shared_engine):
    window = open_window(qtbot, StudioPaths.under(tmp_path / "home"), shared_engine, persist=False)
    QGuiApplication.processEvents()
    picker = window.controls.styles
    image = picker.grab().toImage()
    ratio = image.devicePixelRatio()
    width, height = image.width(), image.height()
    border = round(4 * ratio)  # the rounded frame is not text

    def bright(x: int, y: int) -> bool:
        return QColor(image.pixel(x, y)).lightness() >= BRIGHT

    lit = [x for x in range(border, width - border) if any(bright(x, y) for y in range(border, height - border))]
    assert lit, "the button shows its text"
    # runs of lit columns: the letters, then the arrow, the last run
    runs: list[list[int]] = [[lit[0]]]
    for x in lit[1:]:
        if x - runs[-1][-1] > 1:
            runs.append([x])
        else:
            runs[-1].append(x)
    arrow, text_end = runs[-1], runs[-2][-1]
    assert arrow[0] - text_end >= 4 * ratio, "a clear gap between the text and the arrow"
    rows = [y for y in range(height) for x in arrow if bright(x, y)]
    middle = (min(rows) + max(rows)) / 2
    assert abs(middle - height / 2) <= 3 * ratio, f"the arrow at row {middle} of {height} is not centred"
