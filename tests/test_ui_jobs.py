"""The job model and the queue that survives: real windows, the real engine, real files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.config.paths import StudioPaths
from studio.config.queue_file import StoredJob, load_queue, save_queue
from studio.engine.errors import InvalidParameters
from studio.engine.run.events import Failed, Step
from studio.engine.run.request import GenerationRequest
from studio.ui.events import Delivered, Idle, SaveFailed
from studio.ui.jobs import JobModel, JobState
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


def _request(prompt: str, model: str = "", steps: int = 2) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, seed=1, steps=steps, width=32, height=32, model=model)


def test_a_crash_with_three_jobs_offers_the_two_waiting_and_marks_the_running_one(
    qtbot, paths, tiny_sd_model, shared_engine
):
    model_id = link_model(paths, tiny_sd_model)
    first = open_window(qtbot, paths, shared_engine)
    c = first.controller
    with wait_event(qtbot, c, Step):
        c.submit(_request("one", model_id, steps=300))
    c.submit(_request("two", model_id))
    c.submit(_request("three", model_id))
    qtbot.waitUntil(lambda: len(load_queue(paths.queue_file).jobs) == 3, timeout=STEP_TIMEOUT_MS)

    # the first window never closes cleanly: a second one opens on the same folders, as after kill -9
    from studio.app import build

    again = build(paths)
    window = again.window
    qtbot.addWidget(window)
    qtbot._studio_windows.append(window)
    states = {job.request.prompt: job.state for job in again.controller.jobs.jobs()}
    assert states == {"one": JobState.INTERRUPTED, "two": JobState.QUEUED, "three": JobState.QUEUED}
    assert [job.request.prompt for job in again.controller.restored] == ["two", "three"]
    offer = window.queue_panel
    window.show()
    assert offer.offer.isVisible() and offer.run_restored_button.isVisible()
    assert "2 jobs from the last session are waiting" in offer.restored_label.text()
    assert "1 was interrupted" in offer.restored_label.text()
    assert offer.row_count() == 3  # all three are in the queue view, none silently dropped
    c.cancel_current()
    c.clear_queue()


def test_restored_jobs_run_when_the_person_says_so(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    stored = [StoredJob(7, "queued", _request("kept a", model_id).to_dict()),
              StoredJob(8, "queued", _request("kept b", model_id).to_dict()),
              StoredJob(9, "running", _request("cut short", model_id).to_dict())]
    save_queue(paths.queue_file, stored)
    window = open_window(qtbot, paths, shared_engine)
    c = window.controller
    log = EventLog(c)
    qtbot.wait(200)
    assert not c.busy  # nothing runs before the person answers
    qtbot.mouseClick(window.queue_panel.run_restored_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(log.of(Delivered)) == 2 and not c.busy, timeout=STEP_TIMEOUT_MS)
    assert [e.job for e in log.events if isinstance(e.event, Delivered)] == [7, 8]
    interrupted = c.jobs.get(9)
    assert interrupted is not None and interrupted.state is JobState.INTERRUPTED
    # retry runs the interrupted one in its place
    window.queue_panel.select_job(9)
    assert window.queue_panel.retry_button.isEnabled()
    qtbot.mouseClick(window.queue_panel.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(log.of(Delivered)) == 3 and not c.busy, timeout=STEP_TIMEOUT_MS)
    assert c.jobs.get(9).state is JobState.DONE
    # nothing left waiting on disk, once the change is written (on the next turn of the event loop)
    qtbot.waitUntil(lambda: load_queue(paths.queue_file).jobs == [], timeout=5000)


def test_a_queue_file_of_random_bytes_starts_the_app_with_a_notice(qtbot, paths, shared_engine):
    paths.queue_file.parent.mkdir(parents=True)
    paths.queue_file.write_bytes(os.urandom(4096))
    window = open_window(qtbot, paths, shared_engine)
    assert window.error_banner.isVisible()
    assert "saved queue is damaged" in window.error_banner.text()
    aside = [p.name for p in paths.queue_file.parent.iterdir() if p.name.startswith("queue.json.unreadable-")]
    assert len(aside) == 1 and not paths.queue_file.exists()
    assert window.controller.jobs.rowCount() == 0


def test_a_settings_file_with_a_wrong_section_starts_the_app_with_a_notice(qtbot, paths, shared_engine):
    paths.settings_file.parent.mkdir(parents=True)
    paths.settings_file.write_text('{"window": "x"}', encoding="utf-8")
    window = open_window(qtbot, paths, shared_engine)
    assert window.isVisible()
    assert "Ignored the 'window' settings" in window.error_banner.text()


def test_a_settings_file_that_is_not_json_is_moved_aside(qtbot, paths, shared_engine):
    paths.settings_file.parent.mkdir(parents=True)
    paths.settings_file.write_bytes(b"\x00\xff not settings")
    window = open_window(qtbot, paths, shared_engine)
    assert "settings file is damaged" in window.error_banner.text()
    assert any(p.name.startswith("settings.json.unreadable-") for p in paths.config_dir.iterdir())


def test_the_controls_are_saved_shortly_after_a_change_without_closing(qtbot, paths, shared_engine):
    window = open_window(qtbot, paths, shared_engine)
    window.parameters.prompt.setPlainText("a prompt that must survive a crash")

    def saved() -> bool:
        if not paths.settings_file.is_file():
            return False
        return json.loads(paths.settings_file.read_text())["last"]["prompt"] == "a prompt that must survive a crash"

    qtbot.waitUntil(saved, timeout=5000)


def test_a_request_the_engine_refuses_marks_its_field(qtbot, paths, tiny_sd_model, shared_engine):
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    with wait_event(qtbot, window.controller, Failed) as failed:
        window.controller.submit(_request("x", model_id).replace(steps=0))
    cause = failed.args[0].event.cause
    assert cause == InvalidParameters(("steps",))
    assert window.parameters.steps.property("invalid") is True


def test_an_image_that_cannot_be_saved_is_kept_and_saved_elsewhere(qtbot, paths, tiny_sd_model, shared_engine,
                                                                   tmp_path):
    model_id = link_model(paths, tiny_sd_model)
    paths.gallery_dir.parent.mkdir(parents=True, exist_ok=True)
    paths.gallery_dir.write_text("a file where the gallery folder should be")
    window = open_window(qtbot, paths, shared_engine)
    set_small_run(window, model_id, steps=2)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        window.generate()
    (failed,) = log.of(SaveFailed)
    assert "Could not write" in failed.message and "Traceback" not in failed.message
    assert window.error_banner.isVisible()
    assert window.results.count() == 1 and window.results.path_at(0) == ""
    job, number = window.results_model.job_at(0)
    assert job is not None and job.arrays[number] is not None  # the pixels are kept
    written = window.save_unsaved(job.unsaved[0], tmp_path / "elsewhere.png")
    assert written is not None and written.is_file()
    from studio.library.metadata import read_metadata

    assert read_metadata(written).prompt == "a red circle"


def test_the_job_model_reorders_removes_duplicates_and_retries(qtbot):
    jobs = JobModel()
    a, b, c = (jobs.add(_request(p)) for p in ("a", "b", "c"))
    assert jobs.move(c.id, -2)
    assert [j.request.prompt for j in jobs.jobs()] == ["c", "a", "b"]
    assert jobs.move(c.id, 1) and [j.request.prompt for j in jobs.jobs()] == ["a", "c", "b"]
    assert not jobs.move(a.id, -1)  # already first
    copy = jobs.duplicate(b.id)
    assert copy is not None and copy.id not in (a.id, b.id, c.id) and copy.request == b.request
    jobs.set_running(a)
    assert not jobs.remove(a.id)  # a running job is cancelled, not removed
    assert jobs.remove(c.id) and c.id not in [j.id for j in jobs.jobs()]
    assert jobs.retry(b.id) is None  # only failed, cancelled or interrupted jobs are retried
    assert jobs.next_waiting() is b


def test_the_queue_file_keeps_good_jobs_and_counts_the_rest(tmp_path: Path):
    path = tmp_path / "queue.json"
    path.write_text(json.dumps({"version": 1, "jobs": [
        {"id": 1, "state": "queued", "request": {"prompt": "fine"}},
        {"id": "two", "state": "queued", "request": {}},
        {"id": 3, "state": "exploded", "request": {}},
        {"id": 1, "state": "queued", "request": {"prompt": "same id"}},
        [1, 2, 3],
    ]}), encoding="utf-8")
    loaded = load_queue(path)
    assert [j.id for j in loaded.jobs] == [1]
    assert loaded.notes == ["4 saved jobs could not be read and were left out."]
    path.write_text('{"jobs": ' + "9" * 5000 + "}", encoding="utf-8")
    huge = load_queue(path)
    assert huge.jobs == [] and "number far too long" in huge.notes[0]


@pytest.mark.slow
def test_a_hundred_cancels_and_a_thousand_queued_jobs_leave_nothing_behind(qtbot, paths):
    import threading

    window = open_window(qtbot, paths)  # the app's own engine on the built-in demo model
    c = window.controller
    log = EventLog(c)
    for _ in range(100):
        with wait_event(qtbot, c, Step):
            c.submit(GenerationRequest(prompt="a red circle", seed=1, steps=500, width=64, height=64,
                                       guidance=2.0))
        with wait_event(qtbot, c, Idle):
            c.cancel_current()
    for n in range(1000):
        c.submit(GenerationRequest(prompt="a blue square", seed=n, steps=1, width=64, height=64, guidance=2.0))
    qtbot.waitUntil(lambda: len(log.of(Delivered)) == 1000 and not c.busy, timeout=1_800_000)
    states = [job.state for job in c.jobs.jobs()]
    assert states.count(JobState.CANCELLED) == 100 and states.count(JobState.DONE) == 1000
    assert len(list(paths.gallery_dir.rglob("*.png"))) == 1000
    qtbot.waitUntil(lambda: load_queue(paths.queue_file).jobs == [], timeout=5000)
    window.close()
    assert not c.running
    assert not [t.name for t in threading.enumerate() if t.name.startswith("studio-")]
