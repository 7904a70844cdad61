"""One slow library call (a reconcile) run off the GUI thread, its result sent back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, SignalInstance

from studio.config.atomic import SaveError
from studio.library.metadata import UnreadableImage

log = logging.getLogger(__name__)
UNEXPECTED = "something unexpected went wrong (the details are in the log)"


class BackgroundTask(QObject):
    """Runs callables one at a time on a private pool thread.

    Signals:
        finished(object, str): the result, and "" (or, when it raised, why in a few words; an
            error Studio did not expect is logged with its traceback and called unexpected).
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
        except (SaveError, UnreadableImage) as exc:  # these say why in words already
            self._done.emit(None, str(exc))
            return
        except OSError as exc:
            log.warning("A gallery task failed", exc_info=True)
            self._done.emit(None, (exc.strerror or UNEXPECTED).rstrip(".").lower())
            return
        except Exception:
            log.exception("A gallery task failed")
            self._done.emit(None, UNEXPECTED)
            return
        self._done.emit(result, "")
