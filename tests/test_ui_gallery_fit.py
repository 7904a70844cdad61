"""The gallery on a 1024x640 screen: the search box keeps room to type in, and no control of the
bar is cut at the edge of the gallery page or lies over another (on a wide screen the bar is one
row); the viewer's title is shortened with an ellipsis, and its timeline spans the page rather
than shrinking under a small picture."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from studio.config.paths import StudioPaths
from studio.library.gallery import Gallery
from studio.ui.gallery import install_gallery
from studio.ui.gallery.grid import SEARCH_ROOM_CHARS
from tests.gallery_ui_helpers import fill_gallery
from tests.ui_helpers import OFFSCREEN_NOISE, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


@pytest.fixture
def studio(qtbot, tmp_path: Path, shared_engine):
    paths = StudioPaths.under(tmp_path / "home")
    window = open_window(qtbot, paths, shared_engine, persist=False)
    gallery = Gallery.for_folder(paths.gallery_dir)
    fill_gallery(gallery, 3)
    panel = install_gallery(window, gallery)
    window.tabs.setCurrentWidget(panel)
    yield window, panel
    panel.shutdown()
    gallery.close()


def settle(qtbot, window, size: QSize) -> None:
    window.resize(size)
    qtbot.waitUntil(lambda: window.size() == size)
    QGuiApplication.processEvents()


def bar_geometry(panel) -> dict[str, QRect]:
    grid = panel.grid
    controls: list[QWidget] = [grid.search_box, grid.favorites_button, grid.sort_box, grid.compare_button,
                               grid.count_label]
    return {w.objectName(): QRect(w.mapTo(grid, QPoint(0, 0)), w.size()) for w in controls}


def assert_bar_fits(panel) -> None:
    page = panel.grid.rect()
    shapes = bar_geometry(panel)
    for name, shape in shapes.items():
        assert page.contains(shape), f"{name} at {shape} is cut by the page {page}"
    names = list(shapes)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not shapes[first].intersects(shapes[second]), f"{first} lies over {second}"
    search = panel.grid.search_box
    room = search.fontMetrics().averageCharWidth() * SEARCH_ROOM_CHARS
    assert search.width() >= room, f"the search box is {search.width()} wide, under {room}"
    assert search.height() >= search.minimumSizeHint().height()


def test_the_search_box_keeps_its_room_on_a_small_screen(qtbot, studio):
    window, panel = studio
    settle(qtbot, window, QSize(1024, 640))
    assert_bar_fits(panel)
    # the side columns dragged as wide as they go leave the gallery narrower still
    total = sum(window.splitter.sizes())
    window.splitter.setSizes([total, 1, total])
    QGuiApplication.processEvents()
    assert_bar_fits(panel)
    # the filters moved under the search box, and the grid starts below them
    shapes = bar_geometry(panel)
    assert shapes["GallerySort"].top() > shapes["GallerySearch"].bottom()
    assert panel.grid.view.mapTo(panel.grid, QPoint(0, 0)).y() > shapes["GallerySort"].bottom()


def test_the_bar_is_one_row_on_a_wide_screen(qtbot, studio):
    window, panel = studio
    settle(qtbot, window, QSize(1920, 1080))
    assert_bar_fits(panel)
    shapes = bar_geometry(panel)
    assert shapes["GallerySort"].top() == shapes["GallerySearch"].top()
    # typing a filter lengthens the count ("3 of 3 images") and the bar still fits
    panel.grid.search_box.setText("fox")
    qtbot.waitUntil(lambda: "of" in panel.grid.count_label.text())
    QGuiApplication.processEvents()
    assert_bar_fits(panel)


def test_the_viewer_fits_a_small_screen(qtbot, studio):
    window, panel = studio
    settle(qtbot, window, QSize(1024, 640))
    panel.open_position(0)
    viewer = panel.viewer
    qtbot.waitUntil(viewer.timeline_slot.isVisible)
    QGuiApplication.processEvents()
    title = viewer.title
    name = viewer.path.name
    assert title.fontMetrics().horizontalAdvance(name) > title.width(), "the name must not fit, for this test"
    assert "…" in title.text() and title.text() != name
    assert title.fontMetrics().horizontalAdvance(title.text()) <= title.contentsRect().width()
    assert title.text().endswith(".png")  # cut in the middle: the end of the name still shows
    # the sliders run under the side panel too, far wider than the picture's column
    timeline = viewer.timeline_slot
    assert timeline.width() > viewer.image_view.width() + viewer.side.width() // 2
    page = viewer.rect()
    shape = QRect(timeline.mapTo(viewer, QPoint(0, 0)), timeline.size())
    assert page.contains(shape)
    # on a wide screen the timeline goes back under the picture, and the whole name shows
    settle(qtbot, window, QSize(1920, 1080))
    assert title.text() == name
    assert timeline.width() <= viewer.image_view.width() + 24
