"""A window that fits: at 1024x640 and at 1920x1080 no control of the parameters column is cut
at the viewport's edge and nothing needs a horizontal scroll bar; the first window takes its
size from the screen, and a restored one comes back onto a screen that exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QScrollArea, QWidget

from studio.config.paths import StudioPaths
from studio.config.styles import Style
from studio.ui import window_state
from studio.ui.window_fit import first_size
from tests.ui_helpers import OFFSCREEN_NOISE, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


@pytest.fixture
def window(qtbot, tmp_path: Path, shared_engine):
    return open_window(qtbot, StudioPaths.under(tmp_path / "home"), shared_engine, persist=False)


def clipped_controls(window) -> list[str]:
    """The visible widgets of the parameters column that reach past the viewport's left or right edge."""
    scroll = window.findChild(QScrollArea, "ParametersScroll")
    viewport = scroll.viewport()
    column = scroll.widget()
    cut = []
    for child in [column, *column.findChildren(QWidget)]:
        if not child.isVisibleTo(column) or child.width() <= 0:
            continue
        left = child.mapTo(viewport, QPoint(0, 0)).x()
        if left < 0 or left + child.width() > viewport.width():
            cut.append(f"{type(child).__name__} {child.objectName()!r} at {left}..{left + child.width()} "
                       f"of {viewport.width()}")
    return cut


def needs_horizontal_scroll(window) -> bool:
    scroll = window.findChild(QScrollArea, "ParametersScroll")
    column = scroll.widget()
    width = scroll.viewport().width()
    return column.width() > width or column.minimumSizeHint().width() > width


def settle(qtbot, window, size: QSize) -> None:
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size)
    QGuiApplication.processEvents()


@pytest.mark.parametrize("size", [QSize(1024, 640), QSize(1920, 1080)])
def test_no_control_of_the_parameters_column_is_clipped(qtbot, window, size):
    settle(qtbot, window, size)
    assert clipped_controls(window) == []
    assert not needs_horizontal_scroll(window)
    # the column narrowed as far as the splitter lets it still holds every control
    sizes = window.splitter.sizes()
    window.splitter.setSizes([1, sum(sizes) - 2, 1])
    QGuiApplication.processEvents()
    assert window.splitter.sizes()[0] < sizes[0]
    assert clipped_controls(window) == []
    assert not needs_horizontal_scroll(window)


def test_long_style_names_and_a_long_prompt_do_not_widen_the_column(qtbot, window):
    settle(qtbot, window, QSize(1024, 640))
    width = window.splitter.sizes()[0]
    picker = window.controls.styles
    for name in ("Cinematic photograph with dramatic lighting", "Watercolor on rough paper, loose strokes"):
        picker.store.put(Style(name, "{prompt}, " + name, ""))
    picker.set_chosen(picker.store.names())
    window.parameters.prompt.setPlainText("a lighthouse on a cliff at dusk, " * 12)
    QGuiApplication.processEvents()
    assert "Cinematic photograph" in picker.toolTip() and picker.text().endswith("…")
    assert window.splitter.sizes()[0] == width
    assert clipped_controls(window) == []
    assert not needs_horizontal_scroll(window)


def test_the_first_window_takes_its_size_from_the_screen():
    assert first_size(QSize(1920, 1080)) == QSize(1632, 918)
    assert first_size(QSize(3840, 2160)) == QSize(1680, 1050)  # capped: a 4K window is only emptier
    assert first_size(QSize(1024, 640)) == QSize(1024, 640)
    assert first_size(QSize(800, 600)) == QSize(800, 600)  # never larger than the screen


def test_the_window_opens_within_its_screen_and_comes_back_onto_one(qtbot, window):
    area = window.screen().availableGeometry()
    assert window.size() == first_size(area.size()).expandedTo(window.minimumSize()).boundedTo(area.size())
    assert area.contains(window.frameGeometry().center())
    # kept while on a screen that has since gone: restored on the screen that is here
    window.resize(QSize(min(700, area.width()), min(500, area.height())))
    window.move(area.right() + 3000, area.bottom() + 2000)
    qtbot.waitUntil(lambda: window.x() > area.right())
    saved = window_state.capture(window, window.splitter)
    window.move(area.topLeft())
    window_state.restore(window, window.splitter, saved)
    QGuiApplication.processEvents()
    assert area.contains(window.frameGeometry()), (window.frameGeometry(), area)


def test_with_the_gallery_the_window_still_fits_a_1024x640_screen(qtbot, window, tmp_path: Path):
    import gc

    from studio.library.gallery import Gallery
    from studio.ui.gallery import install_gallery

    gallery = Gallery.for_folder(tmp_path / "pictures")
    panel = install_gallery(window, gallery)
    try:
        QGuiApplication.processEvents()
        least = window.minimumSizeHint().expandedTo(window.minimumSize())
        assert least.width() <= 1024 and least.height() <= 640, least
        settle(qtbot, window, QSize(1024, 640))
        window.tabs.setCurrentWidget(panel)
        panel.pages.setCurrentWidget(panel.viewer)
        QGuiApplication.processEvents()
        side = panel.viewer.findChild(QScrollArea, "ViewerSideScroll")
        for button in (panel.viewer.reuse_all_button, panel.viewer.upscale_button, panel.viewer.delete_button):
            left = button.mapTo(side.viewport(), QPoint(0, 0)).x()
            assert 0 <= left and left + button.width() <= side.viewport().width()
        assert clipped_controls(window) == []
    finally:
        panel.shutdown()
        gallery.close()
        gc.collect()
