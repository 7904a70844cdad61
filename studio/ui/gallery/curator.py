"""Favorites, ratings and trash, written off the GUI thread, one change at a time.

A favorite rewrites and fsyncs the whole PNG, and the trash moves a file, perhaps across a slow
or network disk: the GUI thread never waits for either. The panel shows the change at once,
asks the Curator, and gets one outcome back by a queued signal.

The index is shared safely: GalleryIndex keeps one SQLite connection, opened with
check_same_thread=False, and serializes every use of it with its own lock. The file is written
outside that lock, so the GUI thread's queries wait at most for one short UPDATE, never for the
disk. One pool thread, not several, keeps the changes to a file in the order they were asked for.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, SignalInstance, Slot

from studio.config.atomic import SaveError, describe_os_error
from studio.library.curation import CurationError
from studio.library.index import GalleryIndex, OutsideGallery
from studio.library.metadata import UnreadableImage
from studio.ui.gallery.background import UNEXPECTED

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    """A favorite or a rating is in the file and in the index."""

    path: Path
    favorite: bool | None
    rating: int | None


@dataclass(frozen=True)
class NotStored:
    """A favorite or a rating could not be stored; `message` says why in one line."""

    path: Path
    message: str


@dataclass(frozen=True)
class Trashed:
    path: Path


@dataclass(frozen=True)
class NotTrashed:
    """The file could not go to the trash; `message` says why in one line."""

    path: Path
    message: str


Outcome = Stored | NotStored | Trashed | NotTrashed


class Curator(QObject):
    """Stores curation in image files and sends them to the trash, on a private pool thread.

    Signals:
        done(object): the Outcome of each change, in the order they were asked for.
    """

    done = Signal(object)
    _finished = Signal(object)  # emitted on the pool thread, delivered on the GUI thread

    def __init__(self, index: GalleryIndex, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._index = index
        self._pending: Counter[Path] = Counter()
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._finished.connect(self._on_finished, Qt.ConnectionType.QueuedConnection)

    def set_favorite(self, path: Path, favorite: bool) -> None:
        self._submit(path, lambda: self._store(path, favorite=favorite), _not_stored(path, "favorite"))

    def set_rating(self, path: Path, rating: int) -> None:
        self._submit(path, lambda: self._store(path, rating=rating), _not_stored(path, "rating"))

    def trash(self, path: Path) -> None:
        failed = NotTrashed(path, f"Could not move {path.name} to the trash: {UNEXPECTED}.")
        self._submit(path, lambda: self._trash(path), failed)

    def busy(self, path: Path | None = None) -> bool:
        """Whether changes (to this path, or to any) have not been answered yet."""
        return self._pending[path] > 0 if path is not None else bool(+self._pending)

    def wait(self) -> None:
        """Let every change asked for finish (its outcome is still delivered by the event loop)."""
        self._pool.waitForDone()

    def _submit(self, path: Path, work: Callable[[], Outcome], crashed: Outcome) -> None:
        self._pending[path] += 1
        self._pool.start(_Job(work, crashed, self._finished))

    # -- on the pool thread ----------------------------------------------------------------

    def _store(self, path: Path, *, favorite: bool | None = None, rating: int | None = None) -> Outcome:
        what = "favorite" if favorite is not None else "rating"
        try:
            if favorite is not None:
                self._index.set_favorite(path, favorite)
            if rating is not None:
                self._index.set_rating(path, rating)
        except (CurationError, SaveError, UnreadableImage, OutsideGallery) as exc:
            return NotStored(path, f"Could not change the {what}: {exc}")
        except OSError as exc:
            return NotStored(path, f"Could not change the {what}: {describe_os_error(exc, path)}")
        except Exception:
            log.exception("Storing the %s of %s failed", what, path)
            return NotStored(path, f"Could not change the {what} of {path.name}: {UNEXPECTED}.")
        return Stored(path, favorite, rating)

    def _trash(self, path: Path) -> Outcome:
        try:
            self._index.delete(path)
        except SaveError as exc:
            return NotTrashed(path, str(exc))
        except Exception:
            log.exception("Moving %s to the trash failed", path)
            return NotTrashed(path, f"Could not move {path.name} to the trash: {UNEXPECTED}.")
        return Trashed(path)

    # -- back on the GUI thread ------------------------------------------------------------

    @Slot(object)
    def _on_finished(self, outcome: Outcome) -> None:
        self._pending[outcome.path] -= 1
        self.done.emit(outcome)


def _not_stored(path: Path, what: str) -> NotStored:
    return NotStored(path, f"Could not change the {what} of {path.name}: {UNEXPECTED}.")


class _Job(QRunnable):
    """One change; whatever it raises, an outcome is reported and the cause is logged."""

    def __init__(self, work: Callable[[], Outcome], crashed: Outcome, report: SignalInstance) -> None:
        super().__init__()
        self._work = work
        self._crashed = crashed
        self._report = report

    def run(self) -> None:
        try:
            outcome = self._work()
        except Exception:
            log.exception("A gallery change failed")
            outcome = self._crashed
        try:
            self._report.emit(outcome)
        except RuntimeError:  # the panel was deleted meanwhile; the file holds what was stored
            log.warning("A gallery change was answered after its panel closed: %s", outcome)
