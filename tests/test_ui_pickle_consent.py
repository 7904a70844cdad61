"""Consent for pickle checkpoints in the app: the question, its store, and the window's flow
from a refused run to a run that finishes, on the real engine and a tiny .ckpt file."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from studio.config.paths import StudioPaths
from studio.engine.catalogue.checkpoints import PickleConsent
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.errors import PickleNeedsConsent
from studio.engine.run.events import Failed, Finished, Started
from studio.ui.events import Delivered
from studio.ui.pickle_consent import ALLOW_AND_GENERATE, TITLE, ask_pickle_consent
from tests.ui_helpers import OFFSCREEN_NOISE, EventLog, open_window, set_small_run, wait_event

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


_answers: list[ConsentAnswer] = []


@pytest.fixture(autouse=True)
def _stop_answering() -> Any:
    """A poll left running would walk the top-level widgets while the next test tears its
    windows down."""
    yield
    while _answers:
        _answers.pop()._timer.stop()


class ConsentAnswer:
    """Waits for the consent question to show, notes what it says, and answers it."""

    def __init__(self, button: str | None, *, key: Qt.Key | None = None) -> None:
        self.button, self.key = button, key
        self.seen: list[dict[str, Any]] = []
        self._timer = QTimer()
        self._timer.setInterval(20)
        self._timer.timeout.connect(self._poll)
        self._timer.start()
        _answers.append(self)

    def _poll(self) -> None:
        box = next((w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QMessageBox) and w.objectName() == "PickleConsentBox"
                    and w.isVisible()), None)
        if box is None:
            return
        self._timer.stop()
        default = box.defaultButton()
        self.seen.append({
            "title": box.windowTitle(),
            "text": box.text(),
            "format": box.textFormat(),
            "buttons": sorted(_label(b.text()) for b in box.buttons()),
            "default": _label(default.text()) if default is not None else "",
            "parent": box.parentWidget(),
        })
        if self.key is not None:
            from PySide6.QtTest import QTest

            QTest.keyClick(box, self.key)
        else:
            next(b for b in box.buttons() if _label(b.text()) == self.button).click()


def _label(text: str) -> str:
    return text.replace("&", "")


@pytest.fixture(scope="module")
def tiny_pickle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SD 1.x checkpoint saved with torch.save, with its sidecar config folder."""
    from tests.tiny_families import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("pickle"), suffix=".ckpt")[0]


@pytest.fixture
def paths(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


def _put_in_models_folder(paths: StudioPaths, checkpoint: Path) -> Path:
    paths.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(checkpoint.with_name(checkpoint.stem + ".config"),
                    paths.models_dir / (checkpoint.stem + ".config"))
    return Path(shutil.copy2(checkpoint, paths.models_dir / checkpoint.name))


def test_the_question_is_plain_text_names_the_file_and_defaults_to_cancel(
    qtbot: Any, tmp_path: Path
) -> None:
    file = tmp_path / "<b>merge &amp; more.ckpt"
    file.write_bytes(b"never read")
    parent = QWidget()
    qtbot.addWidget(parent)

    enter = ConsentAnswer(None, key=Qt.Key.Key_Return)
    assert ask_pickle_consent(parent, file) is False  # Enter takes the default: Cancel
    (seen,) = enter.seen
    assert seen["title"] == TITLE
    assert seen["format"] == Qt.TextFormat.PlainText
    assert "<b>merge &amp; more.ckpt is a pickle checkpoint (.ckpt)" in seen["text"]
    assert str(file) in seen["text"]
    for words in ("can run code", "weights-only", "sources you trust"):
        assert words in seen["text"]
    assert seen["buttons"] == sorted([ALLOW_AND_GENERATE, "Cancel"])
    assert seen["default"] == "Cancel"
    assert seen["parent"] is parent

    allow = ConsentAnswer(ALLOW_AND_GENERATE)
    assert ask_pickle_consent(parent, file) is True
    cancel = ConsentAnswer("Cancel")
    assert ask_pickle_consent(parent, file) is False
    assert len(allow.seen) == len(cancel.seen) == 1


def test_make_engine_keeps_consent_in_the_config_folder(paths: StudioPaths) -> None:
    from studio.app import make_engine

    paths.models_dir.mkdir(parents=True)
    file = paths.models_dir / "old.ckpt"
    file.write_bytes(b"weights")
    registry = ModelRegistry(paths)
    engine = make_engine(registry)
    assert engine.pickle_consent is registry.pickle_consent  # the models page sees the same
    assert not engine.pickle_consent.allows(file)
    engine.pickle_consent.allow(file)
    assert registry.pickle_consent_file.is_relative_to(paths.config_dir)
    assert registry.pickle_consent_file.is_file()

    restarted = make_engine(ModelRegistry(paths))
    assert restarted.pickle_consent.allows(file)
    file.write_bytes(b"other weights")  # a changed file asks again
    assert not restarted.pickle_consent.allows(file)


def test_allowing_a_refused_pickle_records_it_and_runs_the_same_request(
    qtbot: Any, paths: StudioPaths, tiny_pickle: Path
) -> None:
    file = _put_in_models_folder(paths, tiny_pickle)
    window = open_window(qtbot, paths, persist=False)
    entry = next(e for e in window.registry.entries() if e.path == file)
    assert entry.is_pickle
    set_small_run(window, entry.id, steps=2, seed=11)
    c = window.controller
    log = EventLog(c)

    answer = ConsentAnswer(ALLOW_AND_GENERATE)
    with wait_event(qtbot, c, Delivered) as done:
        window.generate()

    (refused,) = log.of(Failed)
    assert "pickle checkpoint" in refused.message
    assert refused.cause == PickleNeedsConsent(str(file))  # a type, not a guess from the text
    (seen,) = answer.seen
    assert "tiny.ckpt" in seen["text"] and seen["parent"] is window
    assert PickleConsent(window.registry.pickle_consent_file).allows(file)  # on disk
    (finished,) = log.of(Finished)
    assert finished.request == refused.request and finished.request.seed == 11
    started = [e for e in log.events if isinstance(e.event, Started)]
    assert len(started) == 2 and started[0].job == started[1].job  # the same job, run again
    assert Path(done.args[0].event.paths[0]).is_file()
    assert not window.error_banner.isVisible()
    qtbot.waitUntil(lambda: not c.busy)
    assert not c.queued


def test_cancelling_the_question_records_nothing_and_keeps_the_failure(
    qtbot: Any, paths: StudioPaths, tiny_pickle: Path
) -> None:
    file = _put_in_models_folder(paths, tiny_pickle)
    window = open_window(qtbot, paths, persist=False)
    set_small_run(window, str(file), steps=2)
    c = window.controller
    log = EventLog(c)

    answer = ConsentAnswer("Cancel")
    with wait_event(qtbot, c, Failed) as failed:
        window.generate()
    qtbot.waitUntil(lambda: bool(answer.seen))
    assert not c.queued  # nothing was submitted again
    qtbot.waitUntil(lambda: not c.busy)
    assert len(log.of(Started)) == 1
    assert c.jobs.jobs()[0].state.value == "failed"
    assert not window.registry.pickle_consent.allows(file)
    assert not window.registry.pickle_consent_file.exists()
    assert window.error_banner.isVisible() and window.error_banner.text() == failed.args[0].event.message
    assert window.run_status.state.text() == "Failed"


def test_a_file_allowed_on_the_models_page_generates_without_asking(
    qtbot: Any, paths: StudioPaths, tiny_pickle: Path
) -> None:
    from studio.ui.models_dialog import ModelsDialog

    file = _put_in_models_folder(paths, tiny_pickle)
    window = open_window(qtbot, paths, persist=False)
    page = ModelsDialog(window.registry, window)
    qtbot.addWidget(page)
    page.select(str(file))
    answer = ConsentAnswer("Allow")
    qtbot.mouseClick(page.allow_button, Qt.MouseButton.LeftButton)
    assert len(answer.seen) == 1
    page.close()

    set_small_run(window, str(file), steps=2)
    c = window.controller
    asked_again = ConsentAnswer("Cancel")
    with wait_event(qtbot, c, Delivered):
        window.generate()
    assert not asked_again.seen
