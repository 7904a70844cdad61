"""The grid window's LoRA list: picking a LoRA of the library writes its weight axis
(`lora:NAME=0,0.5,1`) into an axis field. The library is read off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QWidget

from studio.config.paths import StudioPaths
from studio.config.settings import Settings
from studio.ui.gallery.background import BackgroundTask

WEIGHTS = "0,0.5,1"
_PROMPT = "LoRA weight axis…"


def lora_axis(name: str) -> str:
    return f"lora:{name}={WEIGHTS}"


def library_lora_names(paths: StudioPaths, settings: Settings) -> list[str]:
    """The usable LoRAs of the library, by the name a tag uses ("category/name" where names repeat)."""
    from studio.engine.loras.library import AddOnLibrary

    addons = [a for a in AddOnLibrary.for_studio(paths, settings).scan(with_hashes=False)
              if a.kind == "lora" and a.usable]
    repeated = {a.name.lower() for a in addons if sum(b.name.lower() == a.name.lower() for b in addons) > 1}
    return sorted({a.reference if a.name.lower() in repeated else a.name for a in addons}, key=str.lower)


class LoraAxisPicker(QComboBox):
    """The library's LoRAs; choosing one emits its weight axis.

    Signals:
        chosen(str): the axis text for the chosen LoRA, e.g. "lora:ink=0,0.5,1".
        listed(): the names have been read (the list may be empty).
    """

    chosen = Signal(str)
    listed = Signal()

    def __init__(self, paths: StudioPaths, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("Add an axis that weighs one LoRA of the library at 0, 0.5 and 1")
        self.addItem("Reading the LoRA library…")
        self.setEnabled(False)
        self._task = BackgroundTask(self)
        self._task.finished.connect(self._on_names)
        self._task.run(lambda: library_lora_names(paths, settings))
        self.activated.connect(self._on_activated)

    def names(self) -> list[str]:
        return [self.itemText(i) for i in range(1, self.count())] if self.isEnabled() else []

    def wait(self) -> None:
        self._task.wait()

    @Slot(object, str)
    def _on_names(self, names: object, problem: str) -> None:
        self.clear()
        found = list(names) if isinstance(names, list) else []
        if problem:
            self.addItem(f"The LoRA library could not be read: {problem}")
        elif not found:
            self.addItem("No LoRAs in the library")
        else:
            self.addItem(_PROMPT)
            self.addItems(found)
        self.setEnabled(bool(found))
        self.listed.emit()

    @Slot(int)
    def _on_activated(self, index: int) -> None:
        if index > 0:
            self.chosen.emit(lora_axis(self.itemText(index)))
            self.setCurrentIndex(0)
