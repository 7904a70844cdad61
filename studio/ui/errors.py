"""Unhandled exceptions, from any thread, are logged and shown in a dialog, never swallowed."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger("studio")


class ErrorReporter(QObject):
    """Installs sys.excepthook and threading.excepthook; shows each error on the GUI thread.

    Signals:
        reported(str, str): summary and traceback of an unhandled exception.
    """

    reported = Signal(str, str)

    def __init__(self, parent_window: QWidget | None = None) -> None:
        super().__init__()
        self._window = parent_window
        self._previous: tuple[Callable[..., object], Callable[..., object]] | None = None
        self.dialogs: list[QMessageBox] = []
        # a queued connection carries reports from worker threads to the GUI thread
        self.reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        if self._previous is None:
            self._previous = (sys.excepthook, threading.excepthook)
            sys.excepthook = self.handle
            threading.excepthook = self._handle_thread

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous  # type: ignore[assignment]
            self._previous = None

    def handle(
        self,
        kind: type[BaseException],
        error: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        details = "".join(traceback.format_exception(kind, error, tb))
        log.error("Unhandled exception:\n%s", details)
        summary = f"{kind.__name__}: {error}"
        self.reported.emit(summary, details)

    def _handle_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "a thread"
        log.error("Unhandled exception in %s", name)
        self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        box = QMessageBox(self._window)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("Studio: unexpected error")
        box.setTextFormat(Qt.TextFormat.PlainText)
        # everything in the plain-text label: the informative label would guess rich text
        box.setText(
            "Something went wrong that Studio did not expect. It keeps running; "
            f"what you were doing may not have finished.\n\n{summary}"
        )
        box.setDetailedText(details)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _result, b=box: self._forget(b))
        self.dialogs.append(box)
        box.show()  # not exec(): a second error must not wait behind the first

    def _forget(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)
