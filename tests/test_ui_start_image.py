"""The start-image panel in the real window on the real engine: a picture dropped in, its
noised start at the strength, the steps that will run, an inpainting run from a mask, and
the gallery's "Start from this" and reuse bringing the picture and mask back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.config.paths import StudioPaths
from studio.engine.run.events import Finished
from studio.library.metadata.reader import read_metadata
from studio.ui.events import Idle, Noised
from tests.ui_helpers import OFFSCREEN_NOISE, EventLog, link_model, open_window, set_small_run, wait_event

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


@pytest.fixture
def paths(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


@pytest.fixture
def picture(tmp_path: Path) -> Path:
    y, x = np.mgrid[0:32, 0:32]
    path = tmp_path / "start.png"
    Image.fromarray(np.stack([x * 8, y * 8, (x + y) * 4], axis=-1).astype(np.uint8)).save(path)
    return path


def _drop(widget, path: Path) -> None:  # type: ignore[no-untyped-def]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def test_a_dropped_picture_runs_image_to_image_at_the_strength(qtbot, paths, tiny_sd_model, shared_engine, picture):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=8)
    panel = window.start_image
    assert not panel.options.isVisible() and "Drop a picture here" in panel.thumb.text()
    with wait_event(qtbot, window.controller, Noised, lambda e: e.path == str(picture)):
        _drop(panel, picture)
    assert panel.path == str(picture) and panel.options.isVisible()
    panel.strength.setValue(0.5)
    assert panel.steps_label.text() == "4 of 8 steps run"
    # the thumbnail turns into the picture noised to the strength, as the run starts from it
    with wait_event(qtbot, window.controller, Noised, lambda e: abs(e.fraction - 0.5) < 1e-6):
        pass
    qtbot.waitUntil(lambda: panel.thumb.pixmap() is not None and not panel.thumb.pixmap().isNull())
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (finished,) = log.of(Finished)
    assert finished.request.start_image == str(picture) and finished.request.strength == 0.5
    assert finished.request.steps_to_run == 4
    assert max(e.index for e in log.events if type(e.event).__name__ == "Step" for e in [e.event]) <= 4


def test_an_inpainting_run_from_the_window_keeps_the_picture_outside_the_mask(
    qtbot, paths, tiny_sd_model, shared_engine, picture, tmp_path,
):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=4)
    panel = window.start_image
    assert panel.set_start_image(picture)
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (8, 8, 24, 24))
    mask.save(tmp_path / "mask.png")
    panel.set_mask(tmp_path / "mask.png")
    panel.blur_box.setValue(0)
    gallery = _gallery(window, paths)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (finished,) = log.of(Finished)
    result = np.asarray(finished.images[0], dtype=np.int16)
    start = np.asarray(Image.open(picture).convert("RGB"), dtype=np.int16)
    keep = np.asarray(mask) == 0
    assert np.abs(result - start)[keep].max() <= 1
    saved = [e.event.path for e in log.events if type(e.event).__name__ == "Saved"]
    meta = read_metadata(Path(saved[0]))
    assert meta.request is not None and meta.request.mask == str(tmp_path / "mask.png")
    # Reuse after the mask file is gone: the copy kept in the picture comes back.
    (tmp_path / "mask.png").unlink()
    panel.clear()
    assert panel.fields() == {}
    gallery.open_path(saved[0])
    dialog = gallery.reuse(gallery_mode_all())
    assert dialog is not None
    dialog.accept()
    assert panel.path == str(picture)
    assert panel.mask_path and Path(panel.mask_path).is_file()
    assert np.array_equal(np.asarray(Image.open(panel.mask_path)), np.asarray(mask))


def test_start_from_this_in_the_viewer_sets_the_start_image(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=2)
    gallery = _gallery(window, paths)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    saved = [e.event.path for e in log.events if type(e.event).__name__ == "Saved"]
    gallery.open_path(saved[0])
    window.tabs.setCurrentIndex(1)
    qtbot.mouseClick(gallery.viewer.start_from_button, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert window.start_image.path == saved[0]
    assert window.tabs.currentIndex() == 0


def gallery_mode_all():  # type: ignore[no-untyped-def]
    from studio.ui.gallery.reuse import ReuseMode

    return ReuseMode.ALL


def _gallery(window, paths):  # type: ignore[no-untyped-def]
    """The gallery tab, installed as the app does once its window shows."""
    from studio.library.gallery import Gallery
    from studio.ui.gallery import install_gallery

    return install_gallery(window, Gallery(paths.gallery_dir, paths.index_file, paths.thumbnail_dir))
