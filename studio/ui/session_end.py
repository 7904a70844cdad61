"""The end of a session from outside the window: SIGTERM (what systemd and `kill` send at
logout or shutdown), SIGHUP (the terminal went away), Ctrl+C, and the session manager's
request to save before a logout.

Python runs its signal handlers only between bytecodes, and Qt's event loop runs none while it
waits; so the C-level handler writes the signal's number to a socket (`signal.set_wakeup_fd`)
that a QSocketNotifier watches, and the loop wakes up at once to close the window, which saves
the settings and the queue, and to quit with exit code 0.

Signals: stop_requested(int): a signal asked Studio to stop (its number).
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, Signal, Slot
from PySide6.QtGui import QGuiApplication, QSessionManager

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)


class SessionEnd(QObject):
    stop_requested = Signal(int)

    def __init__(self, app: QGuiApplication, save: Callable[[], None], close: Callable[[], Any],
                 parent: QObject | None = None) -> None:
        """`save` writes the state without closing; `close` closes the window (saving too)."""
        super().__init__(parent)
        self._app = app
        self._save = save
        self._close = close
        self._previous: dict[int, Any] = {}
        self._old_wakeup_fd = -1
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_wakeup)
        self._installed = False

    def install(self) -> None:
        """Take over the stop signals and listen to the session manager."""
        if self._installed:
            return
        self._old_wakeup_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for number in STOP_SIGNALS:
            # the work happens in _on_wakeup; a Python-level handler keeps the default
            # (terminate at once, saving nothing) from running
            self._previous[number] = signal.signal(number, _note_signal)
        self._app.commitDataRequest.connect(self._on_commit_data)
        self._app.aboutToQuit.connect(self._on_about_to_quit)
        self._installed = True

    def uninstall(self) -> None:
        if not self._installed:
            return
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        signal.set_wakeup_fd(self._old_wakeup_fd)
        self._notifier.setEnabled(False)
        self._app.commitDataRequest.disconnect(self._on_commit_data)
        self._app.aboutToQuit.disconnect(self._on_about_to_quit)
        self._reader.close()
        self._writer.close()
        self._installed = False

    @Slot()
    def _on_wakeup(self) -> None:
        try:
            numbers = self._reader.recv(64)
        except OSError:  # nothing to read after all
            return
        for number in numbers:
            if number in STOP_SIGNALS:
                self.stop_requested.emit(number)
                self._stop()
                return

    def _stop(self) -> None:
        self._close()
        self._app.quit()

    @Slot(QSessionManager)
    def _on_commit_data(self, _manager: QSessionManager) -> None:
        # a logout may still be cancelled by another program: save, but keep the window
        self._save()

    @Slot()
    def _on_about_to_quit(self) -> None:
        self._save()


def _note_signal(_number: int, _frame: object) -> None:
    """Nothing to do here: the wakeup socket carries the signal to the event loop."""
