"""Edit trigger words…: one line of comma-separated words for a LoRA or embedding. The words
replace the ones the file was trained with; an empty line brings those back."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QVBoxLayout, QWidget

from studio.engine.loras.library import AddOn
from studio.ui.widgets import plain_label


def parse_words(text: str) -> list[str] | None:
    """The words of a comma-separated line, or None for an empty line (the file's own words)."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    return words or None


class TriggerWordsDialog(QDialog):
    """The words of `addon` in a line edit; `words()` is what to save once accepted."""

    def __init__(self, addon: AddOn, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addon = addon
        self.setWindowTitle(f"Trigger words of {addon.name}")
        self.line = QLineEdit(", ".join(addon.trigger_words))
        self.line.setPlaceholderText(", ".join(addon.training_words) or "word, another word")
        self.line.setClearButtonEnabled(True)
        trained = ", ".join(addon.training_words) if addon.training_words else "none"
        hint = plain_label(f"Separate the words with commas. Leave it empty for the words the file "
                           f"was trained with ({trained}).", "HintLabel", wrap=True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label(addon.name, "AddOnName", wrap=True))
        layout.addWidget(self.line)
        layout.addWidget(hint)
        layout.addWidget(buttons)
        self.resize(420, self.sizeHint().height())

    def words(self) -> list[str] | None:
        return parse_words(self.line.text())
