"""Looking at a `studio serve` server off the GUI thread, for the Connect button and the status bar."""

from __future__ import annotations

import itertools

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from studio.remote.connect import ServerCheck, probe


class ServerProbe(QObject):
    """Asks a server what it has, one question at a time, on a thread of its own.

    Signals:
        checked(object): the ServerCheck of the newest `check`; older answers are dropped.
    """

    checked = Signal(object)
    _answered = Signal(int, object)  # from the pool thread: the question's number, its ServerCheck

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._numbers = itertools.count(1)
        self._newest = 0
        self._closed = False
        self._answered.connect(self._on_answered, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return self._pool.activeThreadCount() > 0

    def check(self, url: str, token: str) -> None:
        """Look at the server at `url`; `checked` follows with what was found."""
        if self._closed:
            return
        number = self._newest = next(self._numbers)
        answer = self._answered

        def ask() -> None:
            answer.emit(number, probe(url, token))

        self._pool.start(QRunnable.create(ask))

    def close(self) -> None:
        """Wait for a question on its way (a few seconds at most); no answers after this."""
        self._closed = True
        self._pool.waitForDone()

    @Slot(int, object)
    def _on_answered(self, number: int, check: ServerCheck) -> None:
        if number == self._newest and not self._closed:
            self.checked.emit(check)
