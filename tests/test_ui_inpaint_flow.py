"""What an artist does to inpaint, end to end in the real window on the real engine: a gallery
picture chosen to start from, a mask painted with the mouse, the run previewed every step, and
the result found in the gallery linked to its parent, with the mask and strength reusable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from studio.config.paths import StudioPaths
from studio.engine.run.events import Finished, Step
from studio.library.metadata.reader import read_metadata
from studio.ui.events import Idle, Saved
from studio.ui.gallery.reuse import ReuseMode
from tests.test_ui_mask_editor import stroke
from tests.ui_helpers import OFFSCREEN_NOISE, EventLog, link_model, open_window, set_small_run, wait_event

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def paths(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


def test_paint_a_mask_on_a_gallery_picture_inpaint_it_and_reuse_it(qtbot, paths, tiny_sd_model, shared_engine):
    from studio.library.gallery import Gallery
    from studio.ui.gallery import install_gallery

    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    window.resize(1280, 800)
    set_small_run(window, model_id, steps=4, seed=3)
    window.parameters.width_box.setValue(64)
    window.parameters.height_box.setValue(64)
    gallery = install_gallery(window, Gallery(paths.gallery_dir, paths.index_file, paths.thumbnail_dir))
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (parent,) = [e.path for e in log.of(Saved)]

    # the gallery: open it, start from it
    window.tabs.setCurrentIndex(1)
    gallery.open_path(parent)
    qtbot.mouseClick(gallery.viewer.start_from_button, LEFT, pos=QPoint(5, 5))
    assert window.tabs.currentIndex() == 0 and window.start_image.path == parent
    window.start_image.strength.setValue(0.75)
    window.start_image.blur_box.setValue(0)

    # paint the mask with the mouse: a stroke across the middle
    qtbot.mouseClick(window.start_image.mask_button, LEFT, pos=QPoint(5, 5))
    dialog = window.mask_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitExposed(dialog)
    dialog.editor.set_brush_size(12)
    stroke(dialog.editor.canvas, [(12, 32), (52, 32)])
    painted = np.asarray(dialog.editor.raw_mask_image())
    assert painted[32, 12:53].min() == 255 and painted[:20].max() == 0
    dialog.accept()
    mask_path = window.start_image.mask_path
    assert mask_path and Path(mask_path).is_file()
    assert Path(mask_path).parent == paths.inputs_dir  # never beside a gallery picture

    # inpaint it, previewed at every step
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (finished,) = log.of(Finished)
    assert finished.request.mode == "inpaint" and finished.request.strength == 0.75
    steps = log.of(Step)
    # latest-wins to the GUI: a busy machine may fold a step into the next, never reorder or lose the last
    indices = [s.index for s in steps]
    assert indices == sorted(set(indices)) and indices[-1] == 3 and all(s.preview is not None for s in steps)
    result = np.asarray(finished.images[0], dtype=np.int16)
    with Image.open(parent) as opened:
        before = np.asarray(opened.convert("RGB"), dtype=np.int16)
    keep = painted == 0
    assert np.abs(result - before)[keep].max() <= 1  # outside the mask: the parent's own pixels
    assert np.abs(result - before)[painted == 255].mean() > 1  # inside: repainted
    (child,) = [e.path for e in log.of(Saved)]

    # the result in the gallery, linked to its parent
    window.tabs.setCurrentIndex(1)
    qtbot.waitUntil(lambda: gallery.model.position(child) >= 0)
    gallery.open_path(child)
    button = gallery.viewer.parent_button
    qtbot.waitUntil(button.isVisible)
    assert button.text() == f"Made from {Path(parent).name}"
    qtbot.mouseClick(button, LEFT, pos=QPoint(5, 5))
    assert gallery.viewer.path == Path(parent)

    # reuse brings the mask and the strength back
    window.start_image.clear()
    window.start_image.strength.setValue(0.3)
    gallery.open_path(child)
    reuse = gallery.reuse(ReuseMode.ALL)
    assert reuse is not None
    reuse.accept()
    assert window.start_image.path == parent
    assert window.start_image.strength.value() == 0.75
    with Image.open(window.start_image.mask_path) as reused_mask:
        assert np.array_equal(np.asarray(reused_mask), painted)
    assert read_metadata(Path(child)).request.mask == mask_path  # type: ignore[union-attr]
