"""Variations and the hires fix in the window, and upscaling a gallery picture with progress,
on the real engine with a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from studio.config.paths import StudioPaths
from studio.engine.run.events import Finished, Step
from studio.engine.run.request import GenerationRequest
from studio.library.metadata.reader import read_metadata
from studio.library.pngchunks import read_png_metadata
from studio.ui.events import Idle, Saved, Upscaled, UpscaleFailed, UpscaleProgress
from studio.ui.refine_panel import RefinePanel
from tests.ui_helpers import OFFSCREEN_NOISE, EventLog, link_model, open_window, set_small_run, wait_event

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


@pytest.fixture
def paths(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


def test_refine_is_off_until_ticked_and_round_trips_a_request(qtbot, tmp_path):
    panel = RefinePanel(tmp_path / "models")
    qtbot.addWidget(panel)
    assert panel.fields() == {"variation_seed": None, "variation_strength": 0.0, "hires_scale": 1.0}
    assert not panel.hires_scale.isEnabled() and not panel.variation_seed.isEnabled()
    request = GenerationRequest(prompt="p", variation_seed=4_000_000_000, variation_strength=0.4,
                                hires_scale=1.5, hires_strength=0.35, hires_steps=12)
    panel.apply_request(request)
    assert panel.hires_scale.isEnabled()
    assert panel.fields() == {"variation_seed": 4_000_000_000, "variation_strength": 0.4, "hires_scale": 1.5,
                              "hires_strength": 0.35, "hires_steps": 12, "hires_upscaler": "Lanczos"}
    panel.apply_request(GenerationRequest(prompt="p"))
    assert panel.fields()["hires_scale"] == 1.0 and panel.fields()["variation_seed"] is None


def test_an_upscaler_missing_here_is_said_and_lanczos_chosen(qtbot, tmp_path):
    panel = RefinePanel(tmp_path / "models")
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.notice) as said:
        panel.apply_request(GenerationRequest(prompt="p", hires_scale=2.0, hires_upscaler="4x-UltraSharp"))
    assert "4x-UltraSharp" in said.args[0] and "Lanczos" in said.args[0]
    assert panel.fields()["hires_upscaler"] == "Lanczos"


def test_the_window_runs_a_hires_pass_from_the_refine_controls(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=4)
    window.refine.hires_box.setChecked(True)
    window.refine.hires_scale.setValue(2.0)
    window.refine.hires_strength.setValue(0.5)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (finished,) = log.of(Finished)
    assert finished.images[0].size == (64, 64)
    assert finished.request.hires_scale == 2.0 and finished.request.hires_steps_to_run == 2
    # 4 steps, then half of 4 for the hires pass, as one count; the GUI hears steps latest-wins,
    # so a busy machine may fold one into the next, but never reorders them or loses the last
    steps = [e.index for e in log.of(Step)]
    assert steps == sorted(set(steps)) and steps[-1] == 6 and all(e.total == 6 for e in log.of(Step))


def test_variations_from_the_viewer_run_four_of_the_same_seed_side_by_side(
    qtbot, paths, tiny_sd_model, shared_engine,
):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=3, seed=11)
    gallery = _gallery(window, paths)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (source,) = [e.path for e in log.of(Saved)]
    window.parameters.seed_box.setValue(99)  # the controls moved on; the variations use the image's own
    gallery.open_path(source)
    window.tabs.setCurrentIndex(1)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        qtbot.mouseClick(gallery.viewer.variations_button, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert window.tabs.currentIndex() == 0
    (finished,) = log.of(Finished)
    assert finished.request.batch == 4 and finished.request.seed == 11
    assert finished.request.variation_seed is not None and finished.request.variation_strength == 0.25
    pictures = [np.asarray(image, dtype=np.int16) for image in finished.images]
    with Image.open(source) as saved:
        original = np.asarray(saved.convert("RGB"), dtype=np.int16)
    for i, picture in enumerate(pictures):
        assert np.abs(picture - original).mean() > 0.5  # varied...
        for other in pictures[i + 1:]:
            assert np.abs(picture - other).mean() > 0.5  # ...each its own way
    seeds = [read_metadata(Path(e.path)).request.variation_seed for e in log.of(Saved)]  # type: ignore[union-attr]
    assert len(set(seeds)) == 4
    assert window.results_model.rowCount() >= 4


def test_upscale_from_the_viewer_saves_a_larger_copy_with_its_metadata(qtbot, paths, tiny_sd_model, shared_engine):
    window, gallery, source = _one_in_the_viewer(qtbot, paths, tiny_sd_model, shared_engine)
    qtbot.mouseClick(gallery.viewer.upscale_button, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    dialog = window.upscale_dialog
    dialog.scale.setValue(3.0)
    assert dialog.size_label.text() == "32x32 → 96x96"
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Upscaled):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    (progress,) = log.of(UpscaleProgress)
    assert (progress.done, progress.total) == (1, 1)
    (done,) = log.of(Upscaled)
    with Image.open(done.path) as larger:
        assert larger.size == (96, 96)
    kept, original = read_png_metadata(Path(done.path)), read_png_metadata(Path(source))
    assert kept.texts["parameters"] == original.texts["parameters"]
    assert kept.texts["postprocessing"] == "Postprocess upscale by: 3, Postprocess upscaler: Lanczos"
    qtbot.waitUntil(lambda: gallery.model.position(done.path) >= 0)


def test_an_upscale_cancelled_while_a_run_goes_makes_nothing(qtbot, paths, tiny_sd_model, shared_engine):
    window, gallery, source = _one_in_the_viewer(qtbot, paths, tiny_sd_model, shared_engine)
    window.parameters.steps.setValue(200)
    window.generate()  # the upscale waits behind this run
    qtbot.mouseClick(gallery.viewer.upscale_button, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    dialog = window.upscale_dialog
    dialog.start()
    assert "Waiting for the run" in dialog.status.text()
    with wait_event(qtbot, window.controller, UpscaleFailed) as failed:
        dialog.buttons.rejected.emit()
        window.cancel()
    assert failed.args[0].event.cancelled and "cancelled" in failed.args[0].event.message
    assert list(Path(source).parent.glob("*_3x_*")) == [] and list(Path(source).parent.glob("*_2x_*")) == []


def test_a_picture_that_cannot_be_read_is_said_in_words(qtbot, paths, shared_engine, tmp_path):
    window = open_window(qtbot, paths, shared_engine)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with wait_event(qtbot, window.controller, UpscaleFailed) as failed:
        window.controller.request_upscale(str(broken), 2.0, "Lanczos", tmp_path / "out")
    message = failed.args[0].event.message
    assert "broken.png" in message and "Traceback" not in message
    assert not (tmp_path / "out").exists()


def _one_in_the_viewer(qtbot, paths, model, engine):  # type: ignore[no-untyped-def]
    """A window whose gallery viewer shows one picture just made: (window, gallery, its path)."""
    model_id = link_model(paths, model)  # before the window's first scan of the models folder
    window = open_window(qtbot, paths, engine)
    set_small_run(window, model_id, steps=2)
    gallery = _gallery(window, paths)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (source,) = [e.path for e in log.of(Saved)]
    gallery.open_path(source)
    return window, gallery, source


def _gallery(window, paths):  # type: ignore[no-untyped-def]
    from studio.library.gallery import Gallery
    from studio.ui.gallery import install_gallery

    return install_gallery(window, Gallery(paths.gallery_dir, paths.index_file, paths.thumbnail_dir))
