"""The desktop app pointed at a `studio serve` server on loopback: Settings → Engine, the status
bar, the model picker, previews, cancel, the gallery, and a queue that waits for its server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLineEdit

from studio.config.paths import StudioPaths
from studio.config.settings import EngineSettings, Settings, load_settings, save_settings
from studio.engine.run.events import Cancelled, Failed, Finished, Started, Step
from studio.ui.events import Delivered, Idle, Saved, ServerWaiting
from studio.ui.jobs import JobState
from tests.remote_server import TOKEN, Relay, free_port
from tests.ui_helpers import OFFSCREEN_NOISE, STEP_TIMEOUT_MS, EventLog, open_window, set_small_run, wait_event

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
PROBE_MS = 30_000


@pytest.fixture
def paths(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


def _remote_window(qtbot: Any, paths: StudioPaths, url: str, engine: Any = None) -> Any:
    """The main window as it opens with Settings → Engine already set to the server at `url`."""
    save_settings(Settings(engine=EngineSettings("remote", url, TOKEN)), paths.settings_file)
    window = open_window(qtbot, paths, engine)
    qtbot.waitUntil(lambda: window.run_place.connected, timeout=PROBE_MS)
    return window


def _page(qtbot: Any) -> Any:
    from studio.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(EngineSettings())
    qtbot.addWidget(dialog)
    return dialog


def _connect(qtbot: Any, page: Any, url: str, token: str) -> Any:
    page.remote_button.setChecked(True)
    page.url.setText(url)
    page.token.setText(token)
    page.connect_button.click()
    assert not page.connect_button.isEnabled()  # the answer comes from a thread, the GUI goes on
    qtbot.waitUntil(lambda: page.last_check is not None, timeout=PROBE_MS)
    assert page.connect_button.isEnabled()
    return page.last_check


def test_the_engine_page_says_in_words_what_the_server_answered(qtbot, studio_server, tiny_sd_model, tmp_path):
    dialog = _page(qtbot)
    page = dialog.engine_page
    assert page.local_button.isChecked() and not page.server_box.isEnabled()
    assert page.token.echoMode() == QLineEdit.EchoMode.Password  # masked
    page.show_token.setChecked(True)
    assert page.token.echoMode() == QLineEdit.EchoMode.Normal
    page.show_token.setChecked(False)

    page.remote_button.setChecked(True)
    assert page.server_box.isEnabled()
    for bad, said in (("", "Enter the server's address"), ("ftp://host:1", "is not a server address"),
                      ("http://127.0.0.1", "has no port"), ("http://127.0.0.1:99999", "port that is not")):
        page.url.setText(bad)
        page.token.setText(TOKEN)
        dialog.buttons.accepted.emit()  # OK
        assert said in dialog.problem.text()
        assert dialog.result() == 0  # not accepted
        check = _connect(qtbot, page, bad, TOKEN)
        assert check.reason == "address" and said in page.result.text()

    check = _connect(qtbot, page, studio_server.url, TOKEN)
    assert dialog.problem.text() == ""  # the last OK's problem went with the address it was about
    assert check.connected, check.message
    text = page.result.text()
    assert text.startswith("Connected to Studio ") and "2 replicas on cpu" in text and "tiny-sd" in text
    assert str(tiny_sd_model) in [m.id for m in check.models]
    dialog.show()
    assert dialog.grab().save(str(tmp_path / "settings-engine.png"))  # for a person to look at

    check = _connect(qtbot, page, studio_server.url, "not-the-token")
    assert check.reason == "token"
    assert "refused the token" in page.result.text() and "not-the-token" not in page.result.text()

    nowhere = f"http://127.0.0.1:{free_port()}"
    check = _connect(qtbot, page, nowhere, TOKEN)
    assert check.reason == "unreachable"
    assert page.result.text().startswith(f"Studio could not reach the server at {nowhere}: the connection was "
                                         "refused.")
    assert "Traceback" not in page.result.text()


def test_settings_point_the_window_at_the_server_and_runs_come_back_saved_here(
    qtbot, paths, studio_server, tiny_sd_model, shared_engine
):
    from studio.ui.window_menus import open_settings

    window = open_window(qtbot, paths, shared_engine)
    assert window.engine_label.text() == "Local · CPU"  # where runs go: this computer
    local_ids = {e.id for e in window.catalogue.entries()}

    dialog = open_settings(window)
    page = dialog.engine_page
    page.remote_button.setChecked(True)
    page.url.setText(studio_server.url)
    page.token.setText(TOKEN)
    dialog.buttons.accepted.emit()
    assert not dialog.isVisible()
    stored = load_settings(paths.settings_file).settings.engine
    assert stored == EngineSettings("remote", studio_server.url, TOKEN)  # kept for the next start
    assert not [p for p in paths.settings_file.parent.iterdir() if p.name.startswith(".tmp-")]
    where = studio_server.url.removeprefix("http://")
    qtbot.waitUntil(lambda: window.engine_label.text() == f"Remote · {where} · 2 replicas", timeout=PROBE_MS)
    assert TOKEN not in window.engine_label.text() + window.engine_label.toolTip()
    assert TOKEN not in window.statusBar().currentMessage()
    assert "Connected to Studio" in window.engine_label.toolTip()
    assert window.statusBar().grab().save(str(paths.settings_file.parent / "status-bar.png"))

    # the picker lists the server's models, not this computer's
    entries = window.parameters._entries
    assert str(tiny_sd_model) in [e.id for e in entries]  # only the server has it
    assert str(tiny_sd_model) not in local_ids
    assert all(e.source == "server" for e in entries)
    tiny = next(e for e in entries if e.id == str(tiny_sd_model))
    assert tiny.description == f"On the server {where}."

    c = window.controller
    qtbot.waitUntil(lambda: c.engine_ready, timeout=PROBE_MS)
    log = EventLog(c)
    shown: list[int] = []
    c.event.connect(lambda e: shown.append(window.view.pixmap().cacheKey()) if isinstance(e.event, Step)
                    and e.event.preview is not None else None)
    set_small_run(window, str(tiny_sd_model), steps=6, seed=3)
    with wait_event(qtbot, c, Idle):
        window.generate()
    assert [k for k in log.kinds() if k != "Step"] == ["Started", "Finished", "Saved", "Delivered", "Idle"]
    steps = [s.index for s in log.of(Step)]
    assert steps == sorted(steps) and steps[-1] == 6 and len(steps) >= 2  # latest wins may fold some
    assert all(s.preview is not None for s in log.of(Step))
    assert len(set(shown)) == len(steps)  # each preview painted the canvas anew
    finished = log.of(Finished)[0]
    assert finished.server == studio_server.url
    saved = Path(log.of(Delivered)[0].paths[0])
    assert saved.is_file() and saved.is_relative_to(paths.gallery_dir)
    from PIL import Image

    with Image.open(saved) as png:
        chunk = json.loads(png.text["studio"])
    assert chunk["server"] == studio_server.url
    assert chunk["request"]["seed"] == 3 and chunk["request"]["prompt"] == "a red circle"
    assert log.of(Saved)[0].metadata.request.seed == 3
    assert c.jobs.jobs()[0].state == JobState.DONE
    assert window.grab().save(str(paths.settings_file.parent / "window.png"))

    # Cancel mid-run: the server stops within a step and the job ends cancelled
    log = EventLog(c)
    set_small_run(window, str(tiny_sd_model), steps=40, seed=4)
    window.parameters.width_box.setValue(128)
    window.parameters.height_box.setValue(128)
    with wait_event(qtbot, c, Step, lambda s: s.index >= 2):
        window.generate()
    seen = log.of(Step)[-1].index
    with wait_event(qtbot, c, Idle):
        window.cancel()
    cancelled = log.of(Cancelled)
    assert len(cancelled) == 1 and cancelled[0].steps_done <= seen + 3 < 40
    assert not log.of(Delivered) and c.jobs.jobs()[-1].state == JobState.CANCELLED
    assert window.run_status.state.text().startswith("Cancelled after")


def test_a_server_that_is_down_keeps_the_queue_waiting_until_it_is_back(qtbot, paths, studio_server, tiny_sd_model):
    window = _remote_window(qtbot, paths, studio_server.url)
    c = window.controller
    c.server_retry_ms = 500
    set_small_run(window, str(tiny_sd_model), steps=2)
    log = EventLog(c)
    studio_server.stop()
    try:
        with wait_event(qtbot, c, ServerWaiting):
            window.generate()
            window.generate()
        waiting = log.of(ServerWaiting)[0]
        assert waiting.message.startswith(f"Studio could not reach the server at {studio_server.url}")
        assert "The queue waits: 2 jobs kept. Studio tries again every 0.5 s." in waiting.message
        assert waiting.message in window.banner.label.text()
        assert [j.state for j in c.jobs.jobs()] == [JobState.QUEUED, JobState.QUEUED]  # none failed or lost
        assert not log.of(Failed) and not log.of(Started)
        qtbot.waitUntil(lambda: window.engine_label.text() == "Remote · unreachable", timeout=PROBE_MS)
        c.server_retry_ms = 600_000
        with wait_event(qtbot, c, ServerWaiting):  # it goes on trying, and waiting
            pass
    finally:
        studio_server.start()
    assert c.waiting_for_server is not None  # its next try is minutes away...
    from studio.ui.window_menus import open_settings

    dialog = open_settings(window)  # ...but OK on the same server, now back, goes on at once
    dialog.buttons.accepted.emit()
    qtbot.waitUntil(lambda: [j.state for j in c.jobs.jobs()] == [JobState.DONE] * 2, timeout=STEP_TIMEOUT_MS)
    assert len(log.of(Finished)) == 2 and not log.of(Failed)
    where = studio_server.url.removeprefix("http://")
    qtbot.waitUntil(lambda: window.engine_label.text().startswith(f"Remote · {where}"), timeout=PROBE_MS)


def test_a_connection_lost_mid_run_fails_that_job_and_the_next_one_connects_again(
    qtbot, paths, studio_server, tiny_sd_model
):
    relay = Relay(studio_server.port)
    try:
        window = _remote_window(qtbot, paths, relay.url)
        c = window.controller
        log = EventLog(c)
        set_small_run(window, str(tiny_sd_model), steps=40, seed=5)
        window.parameters.width_box.setValue(128)
        window.parameters.height_box.setValue(128)
        with wait_event(qtbot, c, Step, lambda s: s.index >= 2):
            window.generate()
        with wait_event(qtbot, c, Failed) as blocker:
            assert relay.cut() >= 1
        failed = blocker.args[0].event
        assert failed.message.startswith(f"The connection to {relay.url} was lost during the run")
        assert failed.cause.reason == "lost"
        qtbot.waitUntil(lambda: c.jobs.jobs()[0].state == JobState.FAILED, timeout=PROBE_MS)
        assert failed.message in window.banner.label.text()
        assert c.waiting_for_server is None  # a lost run does not hold the queue
        set_small_run(window, str(tiny_sd_model), steps=2, seed=6)
        with wait_event(qtbot, c, Delivered):
            window.generate()
        assert c.jobs.jobs()[1].state == JobState.DONE
        assert [type(e).__name__ for e in log.of(Failed)] == ["Failed"]
    finally:
        relay.close()
