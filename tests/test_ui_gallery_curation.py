"""Favorites, ratings and trash are written off the GUI thread; a failure is said and undone."""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer

from studio.library.gallery import Gallery
from studio.library.metadata import read_metadata
from studio.ui.gallery import GalleryPanel
from studio.ui.gallery.model import FAVORITE_ROLE
from tests.gallery_ui_helpers import WatchedIndex, fill_gallery, settle, use_trash_in, watch_index


@pytest.fixture
def watched(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Gallery.for_folder(tmp_path / "gallery") as opened:
        fill_gallery(opened)
        watch_index(opened)
        yield opened


@pytest.fixture
def panel(qtbot, watched: Gallery):  # type: ignore[no-untyped-def]
    widget = GalleryPanel(watched)
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    yield widget
    index(widget).release.set()
    widget.shutdown()
    widget.close()
    gc.collect()


def index(panel: GalleryPanel) -> WatchedIndex:
    assert isinstance(panel.gallery.index, WatchedIndex)
    return panel.gallery.index


def gui_thread_runs(qtbot) -> bool:  # type: ignore[no-untyped-def]
    """Whether the GUI thread's event loop runs a timer now (it would not while blocked)."""
    ran: list[bool] = []
    QTimer.singleShot(0, lambda: ran.append(True))
    qtbot.waitUntil(lambda: bool(ran), timeout=2000)
    return bool(ran)


def test_a_star_click_writes_the_file_off_the_gui_thread(qtbot, panel: GalleryPanel) -> None:
    watched = index(panel)
    watched.release.clear()  # the disk is slow: the write waits until the test lets it go
    qtbot.waitExposed(panel)
    row = panel.model.row_at(0)
    cell = panel.view.visualRect(panel.model.index(0))
    star = panel.grid.delegate.star_rect(cell).center()
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=star)

    assert watched.entered.wait(5)
    assert panel.model.data(panel.model.index(0), FAVORITE_ROLE) is True  # shown at once
    assert gui_thread_runs(qtbot)  # while the file is still being written
    assert not read_metadata(row.path).favorite
    with qtbot.waitSignal(panel.message, timeout=5000) as said:
        watched.release.set()
    settle(qtbot, panel)
    assert said.args == ["Added to favorites."]
    assert read_metadata(row.path).favorite
    assert panel.gallery.index.get(row.path).favorite
    assert watched.writers and threading.main_thread() not in watched.writers


def test_a_rating_is_written_off_the_gui_thread(qtbot, panel: GalleryPanel) -> None:
    row = panel.model.row_at(2)
    panel.set_rating(row, 4)
    settle(qtbot, panel)
    assert read_metadata(row.path).rating == 4
    assert panel.model.row_at(2).rating == 4
    assert panel.gallery.index.get(row.path).rating == 4
    assert index(panel).writers and threading.main_thread() not in index(panel).writers


def test_trash_happens_off_the_gui_thread(
    qtbot, panel: GalleryPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trash = use_trash_in(tmp_path / "home", monkeypatch)
    watched = index(panel)
    watched.release.clear()
    panel.show()
    panel.grid.select(1)
    victim = panel.model.row_at(1).path
    following = panel.model.row_at(2).path
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)

    assert watched.entered.wait(5)
    assert panel.model.position(victim) == -1  # gone from the grid at once
    assert panel.grid.current_path() == following
    assert gui_thread_runs(qtbot)
    assert victim.exists()  # the trash has not been reached yet
    with qtbot.waitSignal(panel.message, timeout=5000) as said:
        watched.release.set()
    settle(qtbot, panel)
    assert said.args == [f"Moved {victim.name} to the trash."]
    assert not victim.exists() and (trash / victim.name).exists()
    assert panel.gallery.index.get(victim) is None
    assert threading.main_thread() not in watched.writers


def test_a_favorite_that_cannot_be_stored_is_said_and_undone(qtbot, panel: GalleryPanel) -> None:
    row = panel.model.row_at(1)
    Image.new("RGB", (8, 8)).save(row.path, format="JPEG")  # no longer a PNG
    panel.open_position(1)
    with qtbot.waitSignal(panel.message, timeout=5000) as said:
        qtbot.keyClick(panel.viewer, Qt.Key.Key_F)
        assert panel.viewer.favorite_button.isChecked()  # shown at once, undone on failure
    settle(qtbot, panel)
    text = said.args[0]
    assert text.startswith("Could not change the favorite") and row.path.name in text
    assert "PNG" in text and "Error" not in text and "\n" not in text
    assert not panel.viewer.favorite_button.isChecked()
    assert not panel.model.row_at(1).favorite
    assert not panel.gallery.index.get(row.path).favorite
    assert panel.viewer.status.text() == text


def test_a_favorite_of_a_vanished_file_is_said_in_words(qtbot, panel: GalleryPanel) -> None:
    row = panel.model.row_at(0)
    row.path.unlink()
    with qtbot.waitSignal(panel.message, timeout=5000) as said:
        panel.set_favorite(row, True)
    settle(qtbot, panel)
    assert said.args[0] == f"Could not change the favorite: {row.path.name} is no longer there."
    assert not panel.model.row_at(0).favorite


def test_an_unexpected_error_in_a_write_is_logged_and_said_plainly(
    qtbot, panel: GalleryPanel, caplog: pytest.LogCaptureFixture
) -> None:
    index(panel).fail_with = RuntimeError("internal detail nobody should read")
    row = panel.model.row_at(3)
    with caplog.at_level(logging.ERROR), qtbot.waitSignal(panel.message, timeout=5000) as said:
        panel.set_favorite(row, True)
    settle(qtbot, panel)
    text = said.args[0]
    assert text.startswith("Could not change the favorite of") and row.path.name in text
    assert "RuntimeError" not in text and "internal detail" not in text
    assert not panel.model.row_at(3).favorite
    logged = [r for r in caplog.records if r.exc_info and "internal detail" in str(r.exc_info[1])]
    assert logged, "the cause is kept in the log"


def test_a_trash_that_fails_brings_the_image_back(
    qtbot, panel: GalleryPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trash = use_trash_in(tmp_path / "home", monkeypatch)
    trash.parent.parent.mkdir(parents=True, exist_ok=True)
    trash.parent.write_text("a file where the trash folder belongs")
    panel.show()
    panel.grid.select(2)
    victim = panel.model.row_at(2).path
    with qtbot.waitSignal(panel.message, timeout=5000) as said:
        qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
        assert panel.model.position(victim) == -1
    settle(qtbot, panel)
    text = said.args[0]
    assert text.startswith(f"Could not move {victim.name} to the trash")
    assert "Errno" not in text and "\n" not in text
    assert victim.exists()
    assert panel.model.position(victim) == 2  # back where it was
    assert panel.grid.count_label.text() == "5 images"
    assert panel.gallery.index.get(victim) is not None


def test_quick_clicks_end_on_the_last_one(qtbot, panel: GalleryPanel) -> None:
    watched = index(panel)
    watched.release.clear()
    panel.set_favorite(panel.model.row_at(0), True)
    panel.set_favorite(panel.model.row_at(0), False)
    panel.set_favorite(panel.model.row_at(0), True)
    assert panel.model.row_at(0).favorite
    watched.release.set()
    settle(qtbot, panel)
    path = panel.model.row_at(0).path
    assert read_metadata(path).favorite and panel.model.row_at(0).favorite
    assert len(watched.writers) == 3


def test_an_unfavorite_that_fails_in_the_favorites_view_brings_the_tile_back(
    qtbot, panel: GalleryPanel
) -> None:
    row = panel.model.row_at(1)
    panel.set_favorite(row, True)
    settle(qtbot, panel)
    panel.grid.favorites_button.setChecked(True)
    assert panel.model.rowCount() == 1
    Image.new("RGB", (8, 8)).save(row.path, format="JPEG")  # favorites can no longer be changed
    with qtbot.waitSignal(panel.message, timeout=5000) as said:
        panel.set_favorite(panel.model.row_at(0), False)
        assert panel.model.rowCount() == 0  # it leaves the favorites at once
    settle(qtbot, panel)
    assert "not a PNG" in said.args[0]
    assert panel.model.rowCount() == 1 and panel.model.row_at(0).path == row.path
    assert panel.model.row_at(0).favorite
