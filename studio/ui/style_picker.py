"""The style picker beside the prompt: choose any number of stored styles, import and export
AUTOMATIC1111's styles.csv, save the current prompt as a style.

Signals: changed(): the chosen styles changed. message(str): what an import or export did.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QToolButton, QWidget

from studio.config.atomic import SaveError
from studio.config.styles import Style, StyleStore

MAX_TEXT_WIDTH = 130  # pixels of the button's text; the menu arrow has its own place beside it


class StylePicker(QToolButton):
    changed = Signal()
    message = Signal(str)

    def __init__(self, store: StyleStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._chosen: list[str] = []
        self.current_prompt = lambda: ("", "")  # set by the owner: the prompts to save as a style
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setMenu(QMenu(self))
        self.menu().aboutToShow.connect(self._fill_menu)
        self._update_text()

    def chosen(self) -> list[Style]:
        return self.store.get(self._chosen)

    def chosen_names(self) -> list[str]:
        return list(self._chosen)

    def set_chosen(self, names: list[str] | tuple[str, ...]) -> list[str]:
        """Choose these styles, in this order; returns the names no longer stored."""
        known = set(self.store.names())
        self._chosen = [n for n in dict.fromkeys(names) if n in known]
        self._update_text()
        self.changed.emit()
        return [n for n in names if n not in known]

    def toggle(self, name: str) -> None:
        names = [n for n in self._chosen if n != name] if name in self._chosen else [*self._chosen, name]
        self.set_chosen(names)

    def import_file(self, path: Path) -> str:
        read = self.store.import_file(path)
        words = f"Imported {len(read.styles)} style{'s' if len(read.styles) != 1 else ''} from {path.name}."
        if read.problems:
            shown = " ".join(read.problems[:3])
            more = f" (and {len(read.problems) - 3} more)" if len(read.problems) > 3 else ""
            words += f" Not imported: {shown}{more}"
        self.message.emit(words)
        self.set_chosen(self._chosen)
        return words

    def export_file(self, path: Path) -> str:
        try:
            written = self.store.export_file(path)
        except SaveError as error:
            words = str(error)
        else:
            words = f"Exported {len(self.store.styles)} styles to {written.name}."
        self.message.emit(words)
        return words

    def save_style(self, name: str) -> None:
        prompt, negative = self.current_prompt()
        self.store.put(Style(name.strip(), prompt, negative))
        self.message.emit(f"Saved the style {name.strip()!r}.")

    def _fill_menu(self) -> None:
        menu = self.menu()
        menu.clear()
        for name in self.store.names():
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(name in self._chosen)
            action.triggered.connect(lambda _checked=False, n=name: self.toggle(n))
        if not self.store.styles:
            menu.addAction("No styles yet").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Save the prompt as a style…", self._on_save)
        menu.addAction("Import styles.csv…", self._on_import)
        menu.addAction("Export styles.csv…", self._on_export)

    def _update_text(self) -> None:
        full = f"Styles: {', '.join(self._chosen)}" if self._chosen else "Styles"
        # elided, so that many styles do not widen the parameters column; the tooltip has them all
        self.setText(self.fontMetrics().elidedText(full, Qt.TextElideMode.ElideRight, MAX_TEXT_WIDTH))
        about = "Styles applied to the prompt when it runs ({prompt} marks where the prompt goes)"
        self.setToolTip(f"{full}\n{about}" if self._chosen else about)

    @Slot()
    def _on_save(self) -> None:
        name, ok = QInputDialog.getText(self, "Save as a style", "Name of the style:")
        if ok and name.strip():
            self.save_style(name)

    @Slot()
    def _on_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import styles", "", "Styles (*.csv)")
        if path:
            self.import_file(Path(path))

    @Slot()
    def _on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export styles", "styles.csv", "Styles (*.csv)")
        if path:
            self.export_file(Path(path))
