"""The model catalogue as the window sees it: a snapshot of the registry, scanned off the GUI
thread, refreshed on request (F5, the models page) and when a models folder changes."""

from __future__ import annotations

import logging

from PySide6.QtCore import QFileSystemWatcher, QObject, Qt, QThreadPool, QTimer, Signal, Slot

from studio.engine.catalogue.registry import ModelEntry, ModelRegistry

log = logging.getLogger(__name__)

WATCH_DEBOUNCE_MS = 800  # a copy into the models folder changes it many times


class ModelCatalogue(QObject):
    """The list of models the pickers show.

    Signals:
        changed(): a scan finished; `entries()` has the new list.
        scan_failed(str): a scan could not finish; the message says why (the old list stays).
    """

    changed = Signal()
    scan_failed = Signal(str)
    _scanned = Signal(object, str)  # from the pool thread: entries (None on failure), error

    def __init__(self, registry: ModelRegistry, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self._entries: list[ModelEntry] = registry.snapshot() or registry.bundled_entries()
        self._scanned_once = registry.snapshot() is not None
        # one thread of its own: scans never overlap, and closing waits only for this one
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._scanning = False
        self._again = False
        self._closed = False
        self._scanned.connect(self._on_scanned, Qt.ConnectionType.QueuedConnection)
        self._watcher: QFileSystemWatcher | None = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_folder_changed)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(WATCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.refresh)

    def entries(self) -> list[ModelEntry]:
        return list(self._entries)

    @property
    def scanned(self) -> bool:
        """True once a full scan has finished (before that only the built-in models show)."""
        return self._scanned_once

    @property
    def scanning(self) -> bool:
        return self._scanning

    @Slot()
    def refresh(self) -> None:
        """Scan again on a background thread; `changed` follows. A request during a scan
        starts one more scan after it, so the last change is always seen."""
        if self._closed:
            return
        if self._scanning:
            self._again = True
            return
        self._scanning = True
        self._pool.start(self._scan)

    def close(self) -> None:
        """Let a running scan finish; no more scans after this."""
        self._closed = True
        self._debounce.stop()
        self._pool.waitForDone()
        # The watcher's inotify notifier belongs to the GUI thread's event loop: let the loop
        # delete it now, not Python's collector later on whatever thread it happens to run.
        if self._watcher is not None:
            self._watcher.deleteLater()
            self._watcher = None

    def _scan(self) -> None:
        try:
            entries = self.registry.entries()
        except Exception as error:  # a folder that vanished mid-scan, a disk error
            log.exception("The model scan failed")
            self._scanned.emit(None, f"Studio could not look through the model folders ({type(error).__name__}).")
            return
        self._scanned.emit(entries, "")

    @Slot(object, str)
    def _on_scanned(self, entries: list[ModelEntry] | None, error: str) -> None:
        self._scanning = False
        if self._closed:
            return
        if entries is None:
            self.scan_failed.emit(error)
        else:
            self._entries = entries
            self._scanned_once = True
            self._watch()
            self.changed.emit()
        if self._again and not self._closed:
            self._again = False
            self.refresh()

    def _watch(self) -> None:
        if self._watcher is None:
            return
        folders = [str(self.registry.paths.models_dir)]
        folders += [f for f in self.registry.sources().folders]
        present = [f for f in folders if f and _is_dir(f)]
        watched = set(self._watcher.directories())
        new = [f for f in present if f not in watched]
        if new:
            self._watcher.addPaths(new)

    @Slot(str)
    def _on_folder_changed(self, _folder: str) -> None:
        self._debounce.start()


def _is_dir(text: str) -> bool:
    from pathlib import Path

    try:
        return Path(text).is_dir()
    except OSError:
        return False
