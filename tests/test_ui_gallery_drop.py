"""Dropping images onto the real main window, and the gallery wired into it."""

from __future__ import annotations

import gc
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QLabel

from studio.library.gallery import Gallery
from studio.library.metadata import read_metadata
from studio.library.store import save_image
from studio.ui.events import JobEvent, Saved
from studio.ui.gallery import install_gallery
from studio.ui.gallery.drop import dropped_image
from tests.gallery_ui_helpers import fill_gallery, request_for
from tests.library_samples import A1111_INFOTEXT, jpeg_with_user_comment

INTEROP = Path("/work/shared/interop")


@pytest.fixture
def studio(qtbot, studio_paths):  # type: ignore[no-untyped-def]
    """The app's real main window (engine not started) with the gallery installed."""
    from studio.app import build

    built = build(studio_paths, persist=False)
    window = built.window
    qtbot.addWidget(window)
    gallery = Gallery.for_folder(studio_paths.gallery_dir)
    panel = install_gallery(window, gallery)
    window.parameters.prompt.setPlainText("my own prompt")
    yield window, panel, gallery
    panel.shutdown()
    built.controller.shutdown()
    window.close()
    gallery.close()
    gc.collect()


def drop_files(window, paths: list[Path]) -> tuple[bool, bool]:  # type: ignore[no-untyped-def]
    """Send a real drag-enter and drop with these files' URLs; (entered, dropped) accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = QPointF(window.width() / 2, window.height() / 2)
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    try:  # PySide 6.12 takes a QPointF (the QPoint form is deprecated); older ones a QPoint
        enter = QDragEnterEvent(where, Qt.DropAction.CopyAction, mime, buttons, mods)
    except TypeError:
        enter = QDragEnterEvent(where.toPoint(), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(where, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(window, drop)
    return enter.isAccepted(), drop.isAccepted()


def test_dropping_an_a1111_png_loads_its_parameters_after_the_diff(studio) -> None:  # type: ignore[no-untyped-def]
    window, panel, _gallery = studio
    entered, dropped = drop_files(window, [INTEROP / "a1111_parameters.png"])
    assert entered and dropped
    dialog = panel.drop_loader.dialog
    assert dialog is not None and dialog.isVisible()
    rows = {name: (before, after) for name, before, after in dialog.rows()}
    assert rows["Prompt"] == ("my own prompt", "photo of a duck")
    assert rows["Seed"][1] == "235284042"
    assert "a1111_parameters.png" in dialog.windowTitle()
    assert window.parameters.request().prompt == "my own prompt"
    dialog.apply_button.click()
    request = window.parameters.request()
    assert request.prompt == "photo of a duck"
    assert request.seed == 235284042
    assert request.steps == 15
    assert request.scheduler == "UniPC"
    assert "a1111_parameters.png" in panel.drop_loader.last_message


def test_a_dropped_jpeg_with_exif_infotext_notes_what_is_not_mapped(
    studio, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    window, panel, _gallery = studio
    comment = b"UNICODE\0" + A1111_INFOTEXT.encode("utf-16-be")
    jpeg = jpeg_with_user_comment(tmp_path / "castle.jpg", comment)
    drop_files(window, [jpeg])
    dialog = panel.drop_loader.dialog
    assert dialog is not None
    rows = {name: after for name, _before, after in dialog.rows()}
    assert rows["Prompt"].startswith("masterpiece, a castle on a hill")
    assert rows["Seed"] == "3141592"
    text = "\n".join(label.text() for label in dialog.findChildren(QLabel))
    assert "not a Studio model id" in text  # "v1-5, pruned" cannot be mapped to a model
    dialog.apply_button.click()
    assert window.parameters.request().width == 768


def test_files_that_are_not_images_are_not_accepted(studio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window, panel, _gallery = studio
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    entered, dropped = drop_files(window, [text])
    assert not entered and not dropped
    assert panel.drop_loader.dialog is None


def test_an_image_without_parameters_says_so(studio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window, panel, _gallery = studio
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    drop_files(window, [plain])
    assert panel.drop_loader.dialog is None
    assert "Nothing to load from plain.png" in panel.drop_loader.last_message
    assert window.statusBar().currentMessage() == panel.drop_loader.last_message
    assert window.parameters.request().prompt == "my own prompt"


def test_a_broken_image_is_refused_with_a_reason(studio, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window, panel, _gallery = studio
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"")
    drop_files(window, [broken])
    assert panel.drop_loader.dialog is None
    assert "empty" in panel.drop_loader.last_message


def test_the_gallery_is_a_tab_and_saved_images_appear_in_it(studio) -> None:  # type: ignore[no-untyped-def]
    window, panel, gallery = studio
    assert window.tabs.indexOf(panel) >= 0
    assert window.tabs.tabText(window.tabs.indexOf(panel)) == "Gallery"
    fill_gallery(gallery, 2)
    panel.refresh()
    image = Image.new("RGB", (64, 64), (30, 30, 30))
    path = save_image(image, request_for(9), gallery.folder, now=datetime.now().astimezone())
    # as the controller says once the worker saved it
    window.controller.event.emit(JobEvent(1, Saved(str(path), read_metadata(path))))
    assert panel.model.rowCount() == 3
    assert panel.model.row_at(0).path == path


def test_dropped_image_picks_the_first_local_image() -> None:
    mime = QMimeData()
    local = QUrl.fromLocalFile
    mime.setUrls([QUrl("https://example.com/a.png"), local("/x/readme.md"), local("/x/B.WEBP")])
    assert dropped_image(mime) == Path("/x/B.WEBP")
    assert dropped_image(QMimeData()) is None
