"""The LoRAs and embeddings as the window sees them: the library's last scan, rescanned off the
GUI thread on request, read by the picker, the prompt highlighter and the name completion."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot

from studio.engine.loras.library import AddOn, AddOnLibrary

log = logging.getLogger(__name__)


class AddOnCatalogue(QObject):
    """Holds the listed add-ons; `refresh()` scans on a pool thread of its own.

    Signals:
        changed(): a scan finished; `addons()` has the new list.
        scan_failed(str): a scan could not finish; why, in words (the old list stays).
    """

    changed = Signal()
    scan_failed = Signal(str)
    _scanned = Signal(object, str)  # from the pool thread: add-ons (None on failure), error
    _hashed = Signal(object)  # from the pool thread: the same add-ons with their short hashes

    def __init__(self, library: AddOnLibrary, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self._addons: list[AddOn] = []
        self._loras: dict[str, AddOn] = {}
        self._embeddings: dict[str, AddOn] = {}
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # scans never overlap; closing waits for this one only
        self._scanning = False
        self._again = False
        self._closed = False
        self._scanned_once = False
        self._scanned.connect(self._on_scanned, Qt.ConnectionType.QueuedConnection)
        self._hashed.connect(self._on_hashed, Qt.ConnectionType.QueuedConnection)

    # -- reading -----------------------------------------------------------------------

    def addons(self) -> list[AddOn]:
        return list(self._addons)

    @property
    def scanned(self) -> bool:
        return self._scanned_once

    @property
    def scanning(self) -> bool:
        return self._scanning

    def lora_names(self) -> list[str]:
        """What completion offers after `<lora:`: each usable LoRA as a prompt names it."""
        names = {self.prompt_name(a) for a in self._addons if a.kind == "lora" and a.usable}
        return sorted(names, key=str.lower)

    def prompt_name(self, addon: AddOn) -> str:
        """How a prompt names `addon`: its file name, or "category/name" where another listed
        file of its kind has the same name (the engine resolves both)."""
        same = sum(1 for a in self._addons if a.kind == addon.kind and a.name.lower() == addon.name.lower())
        return addon.reference if same > 1 else addon.name

    def embedding_names(self) -> list[str]:
        return sorted({a.name for a in self._addons if a.kind == "embedding" and a.usable}, key=str.lower)

    def has_lora(self, name: str) -> bool:
        """Whether `<lora:name:...>` names a listed LoRA (as the engine resolves it: any letter
        case, by reference, file name or trainer's name)."""
        return name.strip().replace("\\", "/").strip("/").lower() in self._loras

    def embedding(self, word: str) -> AddOn | None:
        return self._embeddings.get(word.lower())

    def replace(self, updated: AddOn) -> None:
        """Show `updated` (same file) in place of the listed one, e.g. after its trigger words changed."""
        self._set([updated if a.path == updated.path else a for a in self._addons])
        self.changed.emit()

    # -- scanning ----------------------------------------------------------------------

    @Slot()
    def refresh(self) -> None:
        """Scan again; `changed` follows. A request during a scan runs one more after it."""
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
        self._pool.waitForDone()

    def wait(self) -> None:
        self._pool.waitForDone()

    def _scan(self) -> None:
        try:
            # hashes are left to the runs: listing reads headers only, so a big library lists fast
            addons = self.library.scan(with_hashes=False)
        except Exception as error:  # a folder that vanished mid-scan, a disk error
            log.exception("The LoRA and embedding scan failed")
            self._scanned.emit(None, f"Studio could not look through the LoRA and embedding folders "
                                     f"({type(error).__name__}).")
            return
        self._scanned.emit(addons, "")
        self._hash(addons)

    def _hash(self, addons: list[AddOn]) -> None:
        """Hash the files the cache does not know yet, after the list is shown: the picker shows
        each file's short hash. A file is read whole once; the cache on disk keeps the hash."""
        hashed = []
        for addon in addons:
            if self._closed:
                return  # quitting: the rest are hashed next time
            hashed.append(addon if addon.short_hash or not addon.usable else self.library.hash_of(addon))
        self.library.hashes.save()
        if any(a.short_hash != b.short_hash for a, b in zip(addons, hashed, strict=True)):
            self._hashed.emit(hashed)

    @Slot(object)
    def _on_hashed(self, addons: list[AddOn]) -> None:
        if not self._closed:
            self._set(addons)
            self.changed.emit()

    @Slot(object, str)
    def _on_scanned(self, addons: list[AddOn] | None, error: str) -> None:
        self._scanning = False
        if self._closed:
            return
        if addons is None:
            self.scan_failed.emit(error)
        else:
            self._set(addons)
            self._scanned_once = True
            self.changed.emit()
        if self._again:
            self._again = False
            self.refresh()

    def _set(self, addons: list[AddOn]) -> None:
        self._addons = list(addons)
        loras: dict[str, AddOn] = {}
        embeddings: dict[str, AddOn] = {}
        for addon in self._addons:
            if addon.kind == "lora":
                for key in (addon.alias, addon.name, addon.reference):
                    if key:
                        loras[key.lower()] = addon
            else:
                embeddings[addon.name.lower()] = addon
        self._loras, self._embeddings = loras, embeddings
