"""One slow library call (a reconcile) run off the GUI thread, its result sent back."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, SignalInstance


class BackgroundTask(QObject):
    """Runs callables one at a time on a private pool thread.

    Signals:
        finished(object, str): the result, and "" (or the error in words when it raised).
    """

    finished = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def run(self, work: Callable[[], object]) -> None:
        self._pool.start(_Call(work, self.finished))

    def wait(self) -> None:
        self._pool.waitForDone()


class _Call(QRunnable):
    def __init__(self, work: Callable[[], object], done: SignalInstance) -> None:
        super().__init__()
        self._work = work
        self._done = done

    def run(self) -> None:
        try:
            result = self._work()
        except Exception as exc:  # reported to the GUI as a message, never lost
            self._done.emit(None, f"{type(exc).__name__}: {exc}")
            return
        self._done.emit(result, "")
