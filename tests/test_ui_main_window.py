"""The main window on the real engine and a tiny model: generate, cancel, queue, fail, close."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.run.engine import Engine
from tests.ui_helpers import (
    OFFSCREEN_NOISE,
    STEP_TIMEOUT_MS,
    link_model,
    open_window,
    set_small_run,
)

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


@pytest.fixture
def paths(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


def test_prompt_to_steps_in_order_and_a_saved_image(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, prompt="", steps=3, seed=1234)
    qtbot.keyClicks(window.parameters.prompt, "a red circle")
    c = window.controller
    previews: list = []
    finished: list = []
    c.preview.connect(lambda image, index, total: previews.append((image, index, total)))
    c.finished.connect(lambda *args: finished.append(args))

    def step(expected: int):
        return lambda index, total, elapsed: index == expected and total == 3

    with qtbot.waitSignals(
        [c.run_started, c.step, c.step, c.step, c.finished],
        order="strict",
        check_params_cbs=[None, step(1), step(2), step(3), None],
        timeout=STEP_TIMEOUT_MS,
    ):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)

    request, images, saved, _elapsed = finished[0]
    assert request.prompt == "a red circle"
    assert request.seed == 1234
    assert images[0].shape == (32, 32, 3)
    assert Path(saved[0]).is_file()
    assert Path(saved[0]).is_relative_to(paths.gallery_dir)
    assert previews, "no preview reached the GUI thread"
    assert all(p[0].dtype.name == "uint8" and p[0].ndim == 3 for p in previews)
    shown = window.view.pixmap()
    assert shown is not None and (shown.width(), shown.height()) == (32, 32)
    assert window.results.count() == 1
    assert window.parameters.seed_used.text() == "Seed used: 1234"
    assert window.run_status.state.text().startswith("Done")
    # enlarged by a whole number so the pixels stay square
    rect = window.view.image_rect()
    assert rect.width() % 32 == 0 and rect.width() == rect.height()
    # double-clicking a result puts its settings, with its seed, back into the controls
    window.parameters.prompt.setPlainText("something else")
    window.parameters.random_button.setChecked(True)
    item_rect = window.results.visualItemRect(window.results.item(0))
    # item views take a double click only after the press that selects the item
    qtbot.mouseClick(window.results.viewport(), Qt.MouseButton.LeftButton, pos=item_rect.center())
    qtbot.mouseDClick(window.results.viewport(), Qt.MouseButton.LeftButton, pos=item_rect.center())
    again = window.parameters.request()
    assert (again.prompt, again.seed, again.steps) == ("a red circle", 1234, 3)


def test_ctrl_enter_generates_and_random_seed_is_shown(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=2, seed=None)
    window.activateWindow()
    window.parameters.prompt.setFocus()
    with qtbot.waitSignal(window.controller.finished, timeout=STEP_TIMEOUT_MS) as blocker:
        qtbot.keyClick(window.parameters.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    request = blocker.args[0]
    assert request.seed is not None
    assert window.parameters.seed_used.text() == f"Seed used: {request.seed}"
    # Ctrl+Enter did not type a newline into the prompt
    assert window.parameters.prompt.toPlainText() == "a red circle"
    window.parameters.reuse_last_seed()
    assert window.parameters.request().seed == request.seed


def test_cancel_mid_run_stops_within_a_step_and_saves_nothing(
    qtbot, paths, tiny_sd_model, shared_engine
):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=300)
    c = window.controller
    finished: list = []
    c.finished.connect(lambda *args: finished.append(args))
    with qtbot.waitSignal(c.step, timeout=STEP_TIMEOUT_MS, check_params_cb=lambda i, t, e: i >= 2):
        window.generate()
    assert window.cancel_button.isEnabled()
    cancelled: list = []
    c.cancelled.connect(lambda request, steps: cancelled.append(steps))
    with qtbot.waitSignals(
        [c.cancelled, c.busy_changed],
        order="strict",
        check_params_cbs=[None, lambda busy: busy is False],
        timeout=STEP_TIMEOUT_MS,
    ):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert len(cancelled) == 1 and 2 <= cancelled[0] < 300
    assert not finished
    assert not window.cancel_button.isEnabled()
    assert window.run_status.state.text().startswith("Cancelled after")
    assert not paths.gallery_dir.exists() or not any(paths.gallery_dir.rglob("*.png"))


def test_queue_two_requests_and_remove_a_third(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    c = window.controller
    done: list = []
    c.finished.connect(lambda request, *_: done.append(request.prompt))
    set_small_run(window, model_id, prompt="first", steps=40)
    with qtbot.waitSignal(c.step, timeout=STEP_TIMEOUT_MS):
        window.generate()
    for prompt in ("second", "third"):
        window.parameters.prompt.setPlainText(prompt)
        window.parameters.steps.setValue(2)
        window.generate()
    assert [job.request.prompt for job in c.queued] == ["second", "third"]
    items = window.queue_panel.list
    assert items.count() == 3  # the running job and the two waiting
    assert "first" in items.item(0).text()
    items.setCurrentRow(2)
    assert window.queue_panel.remove_button.isEnabled()
    qtbot.mouseClick(window.queue_panel.remove_button, Qt.MouseButton.LeftButton)
    assert [job.request.prompt for job in c.queued] == ["second"]
    qtbot.waitUntil(lambda: len(done) == 2 and not c.busy, timeout=STEP_TIMEOUT_MS)
    assert done == ["first", "second"]
    assert window.results.count() == 2
    assert window.queue_panel.list.count() == 0
    # choosing the older result shows it again, read back from its file
    newest = window.view.pixmap().toImage()
    window.results.setCurrentRow(1)
    older = window.view.pixmap().toImage()
    assert (older.width(), older.height()) == (32, 32)
    assert older != newest


def test_failed_run_shows_the_message_and_the_app_keeps_working(
    qtbot, paths, tiny_sd_model, shared_engine
):
    model_id = link_model(paths, tiny_sd_model)
    broken = paths.models_dir / "broken-model"
    (broken / "unet").mkdir(parents=True)
    (broken / "model_index.json").write_text(
        json.dumps({"_class_name": "StableDiffusionPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}),
        encoding="utf-8",
    )
    (broken / "unet" / "config.json").write_text("{ this is not json", encoding="utf-8")
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, str(broken), steps=2)
    c = window.controller
    with qtbot.waitSignal(c.failed, timeout=STEP_TIMEOUT_MS) as blocker:
        window.generate()
    message = blocker.args[1]
    assert message
    assert window.error_banner.isVisible()
    assert window.error_banner.text() == message
    assert window.error_banner.textFormat() == Qt.TextFormat.PlainText
    assert window.run_status.state.text() == "Failed"
    # the same window still generates on a good model
    set_small_run(window, model_id, steps=2)
    with qtbot.waitSignal(c.finished, timeout=STEP_TIMEOUT_MS):
        window.generate()
    assert not window.error_banner.isVisible()


def test_invalid_values_are_explained_and_not_submitted(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id)
    window.parameters.width_box.setValue(100)  # typed, not yet snapped to a multiple of 8
    assert window.generate() is None
    assert window.controller.busy is False and window.controller.queued == []
    assert window.parameters.problem_label.isVisible()
    assert "multiple of 8" in window.parameters.problem_label.text()
    window.parameters.width_box.editingFinished.emit()  # leaving the box snaps the value
    assert window.parameters.width_box.value() == 96
    assert not window.parameters.problem_label.isVisible()


def test_closing_during_a_run_cancels_and_joins_the_thread(
    qtbot, paths, tiny_sd_model, shared_engine
):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=300)
    c = window.controller
    with qtbot.waitSignal(c.step, timeout=STEP_TIMEOUT_MS):
        window.generate()
    assert c.running
    window.close()
    assert not c.running
    assert c.current is None or c.current.cancel.cancelled
    assert not paths.gallery_dir.exists() or not any(paths.gallery_dir.rglob("*.png"))


def test_parameters_and_geometry_survive_a_restart(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, prompt="a <b>bold</b> square", steps=9, seed=4242)
    window.parameters.negative.setPlainText("blurry")
    window.parameters.guidance.setValue(3.5)
    window.parameters.scheduler_box.setCurrentText("DDIM")
    window.parameters.batch_box.setValue(2)
    window.resize(790, 540)  # fits the 800x600 offscreen screen
    window.close()
    assert paths.settings_file.is_file()

    again = open_window(qtbot, paths, shared_engine)
    panel = again.parameters
    assert panel.current_model() is not None and panel.current_model().id == model_id
    request = panel.request()
    assert request.prompt == "a <b>bold</b> square"
    assert request.negative_prompt == "blurry"
    assert (request.steps, request.guidance, request.seed) == (9, 3.5, 4242)
    assert (request.width, request.height) == (32, 32)
    assert request.scheduler == "DDIM" and request.batch == 2
    assert (again.width(), again.height()) == (790, 540)


class _ExplodingEngine(Engine):
    """A real engine whose run raises: a bug in the engine must still end as a failed run."""

    def generate(self, request, on_event, cancel=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("the <i>device</i> caught fire")


def test_an_engine_that_raises_ends_as_a_failed_run(qtbot, paths, tiny_sd_model):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, _ExplodingEngine(ModelRegistry(paths)))
    set_small_run(window, model_id, steps=2)
    c = window.controller
    failures: list = []
    c.failed.connect(lambda request, message, details: failures.append(message))
    for _ in range(2):  # and the next request is handled the same way
        with qtbot.waitSignals(
            [c.failed, c.busy_changed],
            order="simple",  # busy_changed(True) comes first, from generate() itself
            check_params_cbs=[None, lambda busy: busy is False],
            timeout=STEP_TIMEOUT_MS,
        ):
            window.generate()
        assert "the <i>device</i> caught fire" in failures[-1]
        assert window.error_banner.text() == "RuntimeError: the <i>device</i> caught fire"
        assert window.error_banner.isVisible()
    assert not c.busy


def test_an_engine_that_cannot_start_is_reported(qtbot, paths, tiny_sd_model):
    from studio.app import build

    def no_engine(_registry: ModelRegistry) -> Engine:
        raise OSError("no usable device")

    link_model(paths, tiny_sd_model)
    studio = build(paths, persist=False, engine_factory=no_engine)
    window = studio.window
    qtbot._studio_windows = [window]  # closed, and its thread joined, by qtbot's teardown
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(studio.controller.engine_failed, timeout=STEP_TIMEOUT_MS):
        studio.controller.start()
    assert "no usable device" in window.error_banner.text()
    assert window.engine_label.text() == "Engine not available"
    with qtbot.waitSignal(studio.controller.failed, timeout=STEP_TIMEOUT_MS) as blocker:
        window.generate()
    assert "no usable device" in blocker.args[1]
