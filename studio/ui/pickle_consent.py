"""Asking the person before Studio opens a pickle checkpoint, and acting on the answer.

The engine never unpickles a file the consent store does not allow; this is where a person
allows one, on the GUI thread: from the models page, or when a run was refused for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from studio.engine.catalogue.checkpoints import PickleConsent
from studio.engine.errors import PickleNeedsConsent
from studio.engine.run.events import Failed
from studio.ui.controller import GenerationController
from studio.ui.events import JobEvent

TITLE = "Open a pickle checkpoint?"
ALLOW_AND_GENERATE = "Allow and generate"

AskConsent = Callable[[QWidget | None, Path], bool]


def consent_question(path: Path) -> str:
    """The question's text: the file, the risk, and what Studio does about it."""
    return (
        f"{path.name} is a pickle checkpoint ({path.suffix}).\n\n"
        "Pickle files can run code on this computer when they are opened. Studio opens them "
        "in weights-only mode, which blocks that code, but allow only files from sources you "
        "trust. A .safetensors version of the model holds only weights and needs no "
        "permission.\n\n"
        f"{path}\n\n"
        "If you allow it, Studio remembers that for this file until the file changes."
    )


def ask_pickle_consent(
    parent: QWidget | None, path: Path, *, allow_text: str = ALLOW_AND_GENERATE
) -> bool:
    """Ask, in a modal box over `parent`, whether `path` may be opened. Cancel is the default."""
    box = QMessageBox(parent)
    box.setObjectName("PickleConsentBox")
    box.setWindowTitle(TITLE)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setTextFormat(Qt.TextFormat.PlainText)  # a file name is never markup
    box.setText(consent_question(path))
    allow = box.addButton(allow_text, QMessageBox.ButtonRole.AcceptRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    box.exec()
    allowed = box.clickedButton() is allow
    box.deleteLater()
    return allowed


class PickleConsentFlow(QObject):
    """Answers a run that failed for want of consent to open a pickle file: asks over
    `window`; a yes is recorded in `consent` and the job runs again, a no leaves the
    failure as it is."""

    def __init__(
        self,
        controller: GenerationController,
        consent: PickleConsent,
        window: QWidget,
        ask: AskConsent | None = None,
    ) -> None:
        super().__init__(window)
        self._controller = controller
        self._consent = consent
        self._window = window
        self.ask: AskConsent = ask or ask_pickle_consent
        self._asking: dict[str, list[int]] = {}  # file -> jobs to run again
        controller.event.connect(self._on_event)

    @Slot(object)
    def _on_event(self, event: JobEvent) -> None:
        match event.event:
            case Failed(cause=PickleNeedsConsent(path=file)):
                self._on_pickle_refused(event.job, file)

    def _on_pickle_refused(self, job: int, file: str) -> None:
        if file in self._asking:  # refused again while the question is open: one answer for all
            self._asking[file].append(job)
            return
        path = Path(file)
        if self._consent.allows(path):
            # allowed while this run waited in the queue; a second refusal is left as it is
            self._run_again([job])
            return
        self._asking[file] = [job]
        try:
            allowed = self.ask(self._window, path)
        finally:
            waiting = self._asking.pop(file)
        if not allowed:
            return
        try:
            self._consent.allow(path)
        except OSError as error:
            self._warn(f"Studio could not record the permission for {path.name} ({error}).")
        if self._consent.allows(path):  # also when only the saving failed: it holds until exit
            self._run_again(waiting)

    def _run_again(self, jobs: list[int]) -> None:
        for job in jobs:
            self._controller.retry(job)

    def _warn(self, text: str) -> None:
        box = QMessageBox(self._window)
        box.setWindowTitle("Permission not saved")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(text)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
