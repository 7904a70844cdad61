"""The viewer's noise slider: the worker noises a saved image by its model's forward process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.config.paths import StudioPaths
from studio.ui.events import Delivered, Noised, NoiseFailed
from tests.ui_helpers import OFFSCREEN_NOISE, link_model, open_window, set_small_run, wait_event

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


def test_worker_noises_a_saved_image_by_its_own_model(qtbot, tmp_path: Path, tiny_sd_model, shared_engine):
    paths = StudioPaths.under(tmp_path / "home")
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=2, seed=3)
    c = window.controller
    with wait_event(qtbot, c, Delivered) as done:
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    saved = done.args[0].event.paths[0]
    image = np.asarray(done.args[0].event.arrays[0], dtype=float)

    pictures = {}
    for fraction in (0.0, 1.0):
        with wait_event(qtbot, c, Noised) as answer:
            c.request_noise(saved, fraction)
        noised = answer.args[0].event
        path, got_fraction, picture = noised.path, noised.fraction, noised.picture
        assert (path, got_fraction) == (saved, fraction)
        assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
        pictures[fraction] = picture.astype(float)

    def gap(picture: np.ndarray) -> float:
        small = np.asarray(Image.fromarray(image.astype(np.uint8)).resize(picture.shape[1::-1]), dtype=float)
        return float(np.abs(picture - small).mean())

    # with no noise the view is the image itself; at the end of the schedule it is mostly noise
    assert gap(pictures[0.0]) < gap(pictures[1.0])


def test_noise_for_an_unreadable_file_is_reported(qtbot, tmp_path: Path, shared_engine):
    paths = StudioPaths.under(tmp_path / "home")
    window = open_window(qtbot, paths, shared_engine)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with wait_event(qtbot, window.controller, NoiseFailed) as failed:
        window.controller.request_noise(str(bad), 0.5)
    assert "could not be made" in failed.args[0].event.message
