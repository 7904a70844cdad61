"""The main window on the real engine and a tiny model: generate, cancel, queue, fail, close."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.errors import EngineUnavailable, ModelProblem, Unexpected
from studio.engine.run.engine import Engine
from studio.engine.run.events import Cancelled, Failed, Finished, Step
from studio.ui.events import Delivered, EngineFailed, Idle, Saved
from tests.ui_helpers import (
    OFFSCREEN_NOISE,
    STEP_TIMEOUT_MS,
    EventLog,
    link_model,
    open_window,
    set_small_run,
    wait_event,
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
    log = EventLog(c)
    with wait_event(qtbot, c, Idle):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)

    # one stream, in order: started, steps (newest wins, so some may be skipped), the outcome,
    # the saved file, then the job delivered and the worker idle
    kinds = [k for k in log.kinds() if k != "Step"]
    assert kinds == ["Started", "Finished", "Saved", "Delivered", "Idle"]
    steps = [s.index for s in log.of(Step)]
    assert steps == sorted(steps) and steps[-1] == 3 and all(s.total == 3 for s in log.of(Step))
    assert len({e.job for e in log.events}) == 1
    request = log.of(Finished)[0].request
    delivered = log.of(Delivered)[0]
    assert request.prompt == "a red circle"
    assert request.seed == 1234
    assert delivered.arrays[0].shape == (32, 32, 3)
    saved = delivered.paths
    assert Path(saved[0]).is_file()
    assert Path(saved[0]).is_relative_to(paths.gallery_dir)
    assert log.of(Saved)[0].metadata.request.prompt == "a red circle"  # the gallery reads no file
    previews = [s.preview for s in log.of(Step) if s.preview is not None]
    assert previews, "no preview reached the GUI thread"
    assert all(p.dtype.name == "uint8" and p.ndim == 3 for p in previews)
    job = c.jobs.jobs()[0]
    assert job.state.value == "done" and job.paths == saved
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
    item_rect = window.results.visualRect(window.results.model().index(0, 0))
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
    with wait_event(qtbot, window.controller, Finished) as blocker:
        qtbot.keyClick(window.parameters.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    request = blocker.args[0].event.request
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
    log = EventLog(c)
    with wait_event(qtbot, c, Step, lambda s: s.index >= 2):
        window.generate()
    assert window.cancel_button.isEnabled()
    with wait_event(qtbot, c, Idle):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    cancelled = [e.steps_done for e in log.of(Cancelled)]
    assert len(cancelled) == 1 and 2 <= cancelled[0] < 300
    assert not log.of(Finished) and not log.of(Delivered)
    assert c.jobs.jobs()[0].state.value == "cancelled"
    assert not window.cancel_button.isEnabled()
    assert window.run_status.state.text().startswith("Cancelled after")
    assert not paths.gallery_dir.exists() or not any(paths.gallery_dir.rglob("*.png"))


def test_queue_two_requests_and_remove_a_third(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    c = window.controller
    log = EventLog(c)
    set_small_run(window, model_id, prompt="first", steps=40)
    with wait_event(qtbot, c, Step):
        window.generate()
    for prompt in ("second", "third"):
        window.parameters.prompt.setPlainText(prompt)
        window.parameters.steps.setValue(2)
        window.generate()
    assert [job.request.prompt for job in c.queued] == ["second", "third"]
    queue = window.queue_panel
    assert queue.row_count() == 3  # the running job and the two waiting
    assert "first" in queue.shown.index(0, 0).data()
    queue.list.setCurrentIndex(queue.shown.index(2, 0))
    assert queue.remove_button.isEnabled()
    qtbot.mouseClick(queue.remove_button, Qt.MouseButton.LeftButton)
    assert [job.request.prompt for job in c.queued] == ["second"]
    qtbot.waitUntil(lambda: len(log.of(Delivered)) == 2 and not c.busy, timeout=STEP_TIMEOUT_MS)
    assert [f.request.prompt for f in log.of(Finished)] == ["first", "second"]
    assert window.results.count() == 2
    assert queue.row_count() == 0
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
    with wait_event(qtbot, c, Failed) as blocker:
        window.generate()
    failed = blocker.args[0].event
    message = failed.message
    assert message and "Traceback" not in message
    assert isinstance(failed.cause, ModelProblem)  # the cause is a type, decided where it was caught
    assert window.error_banner.isVisible()
    assert window.error_banner.text() == message
    assert window.error_banner.textFormat() == Qt.TextFormat.PlainText
    assert window.run_status.state.text() == "Failed"
    # the same window still generates on a good model
    set_small_run(window, model_id, steps=2)
    with wait_event(qtbot, c, Delivered):
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
    with wait_event(qtbot, c, Step):
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
    log = EventLog(c)
    for _ in range(2):  # and the next request is handled the same way
        with wait_event(qtbot, c, Idle):
            window.generate()
        failed = log.of(Failed)[-1]
        assert isinstance(failed.cause, Unexpected) and failed.cause.error_type == "RuntimeError"
        # the raw exception text is for the bug report, not the message
        assert "caught fire" not in failed.message and "caught fire" in failed.details
        assert window.error_banner.text() == failed.message
        assert "unexpected error (RuntimeError)" in window.error_banner.text()
        assert window.error_banner.isVisible()
        assert window.details_button.isVisible() and "caught fire" in window.banner.details
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
    with wait_event(qtbot, studio.controller, EngineFailed) as started:
        studio.controller.start()
    assert "could not start" in window.error_banner.text()
    assert "no usable device" in started.args[0].event.details
    assert window.engine_label.text() == "Engine not available"
    with wait_event(qtbot, studio.controller, Failed) as blocker:
        window.generate()
    assert isinstance(blocker.args[0].event.cause, EngineUnavailable)
    assert "could not start" in blocker.args[0].event.message
