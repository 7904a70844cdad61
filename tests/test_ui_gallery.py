"""The gallery grid on a real gallery: rows, search, favorites, sort, new images, thumbnails."""

from __future__ import annotations

import gc
import logging
import threading
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QRunnable, Qt
from PySide6.QtGui import QColor, QPixmap

from studio.library.gallery import Gallery
from studio.library.metadata import ImageMetadata, read_metadata
from studio.library.store import save_image
from studio.library.thumbnails import ThumbnailCache
from studio.ui.gallery import GalleryPanel
from studio.ui.gallery.delegate import TILE
from studio.ui.gallery.loader import ThumbnailLoader
from studio.ui.gallery.model import FAVORITE_ROLE, PATH_ROLE, THUMBNAIL_ROLE
from tests.gallery_ui_helpers import COLORS, PROMPTS, fill_gallery, request_for, settle, use_trash_in, watch_index


@pytest.fixture
def gallery(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Gallery.for_folder(tmp_path / "gallery") as opened:
        yield opened


@pytest.fixture
def panel(qtbot, gallery: Gallery):  # type: ignore[no-untyped-def]
    fill_gallery(gallery)
    widget = GalleryPanel(gallery)
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    yield widget
    widget.shutdown()
    widget.close()
    gc.collect()  # collect Qt wrappers here, on the GUI thread, not later on a pool thread


def shown_paths(panel: GalleryPanel) -> list[str]:
    model = panel.model
    return [model.data(model.index(i), PATH_ROLE) for i in range(model.rowCount())]


def test_grid_shows_every_row_newest_first(panel: GalleryPanel) -> None:
    rows = panel.gallery.index.rows()
    assert shown_paths(panel) == [str(row.path) for row in rows]
    assert Path(shown_paths(panel)[0]).name.endswith("a-red-dragon-over-the-sea.png")
    assert panel.grid.count_label.text() == "5 images"
    assert panel.view.uniformItemSizes()


def test_search_filters_by_prompt_words(qtbot, panel: GalleryPanel) -> None:
    with qtbot.waitSignal(panel.grid.rows_shown, timeout=2000) as shown:
        panel.grid.search_box.setText("red")
    assert shown.args == [2]
    prompts = {panel.model.row_at(i).prompt for i in range(panel.model.rowCount())}
    assert prompts == {PROMPTS[0], PROMPTS[4]}
    assert panel.grid.count_label.text() == "2 of 5 images"

    with qtbot.waitSignal(panel.grid.rows_shown, timeout=2000):
        panel.grid.search_box.setText("unicorn")
    assert panel.model.rowCount() == 0
    assert panel.grid.empty_label.isVisibleTo(panel)
    assert "unicorn" in panel.grid.empty_label.text()


def test_favorites_filter_and_sort(qtbot, panel: GalleryPanel) -> None:
    oldest = panel.model.row_at(panel.model.rowCount() - 1)
    panel.set_favorite(oldest, True)
    settle(qtbot, panel)
    position = panel.model.position(oldest.path)
    assert panel.model.data(panel.model.index(position), FAVORITE_ROLE) is True

    panel.grid.favorites_button.setChecked(True)
    assert shown_paths(panel) == [str(oldest.path)]
    assert panel.grid.count_label.text() == "1 of 5 images"
    panel.grid.favorites_button.setChecked(False)

    panel.grid.sort_box.setCurrentIndex(1)  # oldest first
    assert shown_paths(panel)[0] == str(oldest.path)
    assert shown_paths(panel) == [str(r.path) for r in panel.gallery.index.rows(order="asc")]


def test_a_newly_saved_image_appears_at_the_top(panel: GalleryPanel) -> None:
    image = Image.new("RGB", (64, 64), (10, 200, 200))
    path = save_image(image, request_for(7), panel.gallery.folder, now=datetime.now().astimezone())
    panel.add_saved(str(path))
    assert panel.model.rowCount() == 6
    assert shown_paths(panel)[0] == str(path)
    assert panel.grid.count_label.text() == "6 images"
    assert panel.gallery.index.get(path) is not None  # indexed, so it survives a restart


def test_a_saved_image_with_its_metadata_is_indexed_without_reading_the_file(
    panel: GalleryPanel,
) -> None:
    image = Image.new("RGB", (64, 64), (10, 200, 200))
    path = save_image(image, request_for(8), panel.gallery.folder, now=datetime.now().astimezone())
    told = ImageMetadata(source="Studio", prompt="what the window knew", seed=77, width=64, height=64)
    panel.add_saved(str(path), told)
    assert read_metadata(path).prompt == PROMPTS[8 % len(PROMPTS)]  # the file says otherwise
    assert panel.gallery.index.get(path).prompt == "what the window knew"
    assert panel.model.row_at(0).path == path and panel.model.row_at(0).seed == 77


def test_a_saved_image_outside_the_search_stays_hidden(qtbot, panel: GalleryPanel) -> None:
    with qtbot.waitSignal(panel.grid.rows_shown, timeout=2000):
        panel.grid.search_box.setText("owl")
    now = datetime.now().astimezone()
    path = save_image(Image.new("RGB", (64, 64)), request_for(0), panel.gallery.folder, now=now)
    panel.add_saved(str(path))
    assert panel.model.rowCount() == 1
    assert panel.grid.count_label.text() == "1 of 6 images"


def test_an_unreadable_saved_file_is_reported_not_raised(qtbot, panel: GalleryPanel) -> None:
    broken = panel.gallery.folder / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with qtbot.waitSignal(panel.message) as said:
        panel.add_saved(str(broken))
    assert "could not be added" in said.args[0]
    assert panel.model.rowCount() == 5


def test_a_saved_file_that_is_gone_is_reported_in_words(qtbot, panel: GalleryPanel) -> None:
    gone = panel.gallery.folder / "gone.png"
    with qtbot.waitSignal(panel.message) as said:
        panel.add_saved(str(gone))
    assert said.args == ["The saved image could not be added to the gallery: gone.png is no longer there."]
    assert panel.model.rowCount() == 5


@pytest.fixture
def make_loader():  # type: ignore[no-untyped-def]
    made: list[ThumbnailLoader] = []

    def make(cache: ThumbnailCache, **options: int) -> ThumbnailLoader:
        made.append(ThumbnailLoader(cache, TILE, **options))
        return made[-1]

    yield make
    for loader in made:
        loader.shutdown()
    made.clear()
    gc.collect()


class RecordingCache(ThumbnailCache):
    """The library's disk cache, noting which threads made thumbnails."""

    def __init__(self, cache_dir: Path) -> None:
        super().__init__(cache_dir)
        self.threads: set[int] = set()

    def get(self, image_path: Path, size: int) -> Path:
        self.threads.add(threading.get_ident())
        return super().get(image_path, size)


def test_thumbnails_arrive_off_the_gui_thread_and_are_painted(qtbot, panel: GalleryPanel) -> None:
    cache = RecordingCache(panel.gallery.thumbnails.cache_dir)
    panel.loader._cache = cache
    panel.show()
    qtbot.waitExposed(panel)

    def all_loaded() -> bool:
        model = panel.model
        return all(
            isinstance(model.data(model.index(i), THUMBNAIL_ROLE), QPixmap) for i in range(5)
        )

    qtbot.waitUntil(all_loaded, timeout=5000)
    assert cache.threads and threading.get_ident() not in cache.threads
    assert len(list(cache.cache_dir.rglob("*.jpg"))) == 5
    # the newest image (top left) is painted from its thumbnail
    qtbot.waitUntil(lambda: panel.view.viewport().grab().toImage().pixel(1, 1) != 0, timeout=2000)
    shot = panel.view.viewport().grab().toImage()
    rect = panel.view.visualRect(panel.model.index(0))
    center = QColor(shot.pixel(rect.center()))
    expected = QColor(*COLORS[4])
    assert abs(center.red() - expected.red()) < 12
    assert abs(center.green() - expected.green()) < 12
    assert abs(center.blue() - expected.blue()) < 12


def test_the_most_recent_request_loads_first(qtbot, gallery: Gallery, make_loader) -> None:
    paths = [str(p) for p in fill_gallery(gallery, 5)]
    loader = make_loader(gallery.thumbnails, threads=1)
    release = threading.Event()

    class Block(QRunnable):
        def run(self) -> None:
            release.wait(5)

    loader._pool.start(Block())  # the one pool thread is busy while requests pile up
    order: list[str] = []
    loader.thumbnail_ready.connect(order.append)
    for path in paths:
        loader.request(path)
    loader.request(paths[0])  # asked again: now the most recent
    release.set()
    qtbot.waitUntil(lambda: len(order) == 5, timeout=5000)
    loader.shutdown()
    assert order == [paths[0], paths[4], paths[3], paths[2], paths[1]]


def test_memory_cache_keeps_only_the_most_recent(qtbot, gallery: Gallery, make_loader) -> None:
    paths = [str(p) for p in fill_gallery(gallery, 5)]
    loader = make_loader(gallery.thumbnails, threads=1, capacity=3)
    ready: list[str] = []
    loader.thumbnail_ready.connect(ready.append)
    for path in paths:
        assert loader.pixmap(path) is None
    qtbot.waitUntil(lambda: len(ready) == 5, timeout=5000)
    loader.shutdown()
    assert loader.cached_count() == 3
    kept = [p for p in paths if loader._pixmaps.get(p) is not None]
    assert kept == ready[-3:] or set(kept) == set(ready[-3:])


def test_an_unreadable_image_gets_a_reason_not_a_thumbnail(
    qtbot, gallery: Gallery, make_loader
) -> None:
    bad = gallery.folder / "bad.png"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    loader = make_loader(gallery.thumbnails, threads=1)
    with qtbot.waitSignal(loader.thumbnail_failed, timeout=5000) as failed:
        loader.request(str(bad))
    loader.shutdown()
    assert failed.args[0] == str(bad)
    assert "bad.png" in failed.args[1]
    assert loader.pixmap(str(bad)) is None and loader.failure(str(bad))


def test_reconcile_picks_up_files_added_outside_the_app(qtbot, panel: GalleryPanel) -> None:
    outside = panel.gallery.folder / "elsewhere"
    outside.mkdir()
    path = save_image(Image.new("RGB", (64, 64)), request_for(3), outside)
    with qtbot.waitSignal(panel.grid.rows_shown, timeout=5000):
        panel.reconcile()
    assert str(path) in shown_paths(panel)
    assert panel.model.rowCount() == 6


def test_a_reconcile_that_fails_is_said_plainly_and_logged(
    qtbot, gallery: Gallery, caplog: pytest.LogCaptureFixture
) -> None:
    fill_gallery(gallery, 2)
    watch_index(gallery).fail_with = KeyError("an internal key")
    widget = GalleryPanel(gallery)
    qtbot.addWidget(widget)
    with caplog.at_level(logging.ERROR), qtbot.waitSignal(widget.message, timeout=5000) as said:
        widget.reconcile()
    widget.shutdown()
    text = said.args[0]
    assert text.startswith("The gallery could not be checked against its folder")
    assert "KeyError" not in text and "internal key" not in text
    assert widget.model.rowCount() == 2
    assert any(r.exc_info and "internal key" in str(r.exc_info[1]) for r in caplog.records)


def test_grid_keys_favorite_and_delete(
    qtbot, panel: GalleryPanel, tmp_path: Path, monkeypatch
) -> None:
    use_trash_in(tmp_path / "home", monkeypatch)
    panel.show()
    panel.grid.select(1)
    row = panel.model.row_at(1)
    qtbot.keyClick(panel.view, Qt.Key.Key_F)
    settle(qtbot, panel)
    assert panel.gallery.index.get(row.path).favorite
    qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    settle(qtbot, panel)
    assert not row.path.exists()
    assert (tmp_path / "home" / ".local" / "share" / "Trash" / "files" / row.path.name).exists()
    assert panel.gallery.index.get(row.path) is None
    assert panel.model.rowCount() == 4
    assert panel.view.currentIndex().row() == 1  # the next image is selected


def test_two_selected_images_open_in_the_compare_slider_older_first(qtbot, panel: GalleryPanel) -> None:  # type: ignore[no-untyped-def]
    panel.show()
    button = panel.grid.compare_button
    view = panel.view
    first = view.visualRect(panel.model.index(0)).center()
    third = view.visualRect(panel.model.index(2)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=first)
    assert not button.isEnabled()  # one image: nothing to compare it with
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier, third)
    assert button.isEnabled()
    newest, older = shown_paths(panel)[0], shown_paths(panel)[2]
    with qtbot.waitSignal(panel.grid.compare_chosen) as chosen:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert [str(p) for p in chosen.args] == [older, newest]
    dialog = panel.compare_dialog
    assert dialog is not None and dialog.isVisible()
    from PySide6.QtWidgets import QLabel

    names = dialog.findChild(QLabel).text()
    assert names.index(Path(older).name) < names.index(Path(newest).name)
    dialog.close()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ControlModifier,
                     view.visualRect(panel.model.index(1)).center())
    assert not button.isEnabled()  # three selected: which two is not clear


def test_comparing_with_a_file_that_is_gone_says_so(qtbot, panel: GalleryPanel, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    paths = [Path(p) for p in shown_paths(panel)[:2]]
    paths[0].unlink()
    with qtbot.waitSignal(panel.message) as said:
        assert panel.compare(paths[0], paths[1]) is None
    assert "cannot be read" in said.args[0] and paths[0].name in said.args[0]
