"""Settings › LoRAs and embeddings: the folders looked through besides Studio's own loras/ and
embeddings/ folders, each list with Add… and Remove."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.widgets import plain_label


def folder_problem(text: str, listed: Sequence[str]) -> str:
    """Why `text` cannot be added to the folders `listed`, or ""."""
    folder = Path(text).expanduser()
    if not text.strip():
        return "Choose a folder."
    if not folder.is_dir():
        return f"{text} is not a folder Studio can open; it was not added."
    if any(Path(f).expanduser().resolve() == folder.resolve() for f in listed):
        return f"{text} is in the list already."
    return ""


class FolderList(QGroupBox):
    """A titled list of folders with Add… (a folder chooser) and Remove."""

    def __init__(self, title: str, folders: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.title_text = title
        self.list = QListWidget()
        self.list.addItems(list(folders))  # item text is never rich text
        self.add_button = QPushButton("Add…")
        self.remove_button = QPushButton("Remove")
        self.message = plain_label("", "ProblemLabel", wrap=True)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.add_button.clicked.connect(self._on_add)
        self.remove_button.clicked.connect(self._on_remove)
        self.list.currentRowChanged.connect(self._on_row_changed)
        self._on_row_changed(self.list.currentRow())

    def folders(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add_folder(self, folder: str) -> bool:
        """List `folder` when it is one and not listed yet; otherwise say why under the list."""
        problem = folder_problem(folder, self.folders())
        self.message.setText(problem)
        if problem:
            return False
        self.list.addItem(folder)
        self.list.setCurrentRow(self.list.count() - 1)
        return True

    @Slot()
    def _on_add(self) -> None:
        start = self.folders()[-1] if self.folders() else str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, f"Add to {self.title_text}", start)
        if chosen:  # empty when the person cancelled
            self.add_folder(chosen)

    @Slot()
    def _on_remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.message.setText("")

    @Slot(int)
    def _on_row_changed(self, row: int) -> None:
        self.remove_button.setEnabled(row >= 0)


class AddOnFoldersPage(QWidget):
    """The extra LoRA folders and embedding folders; `folders()` is what the person chose."""

    def __init__(self, lora_folders: Sequence[str], embedding_folders: Sequence[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loras = FolderList("LoRA folders", lora_folders)
        self.embeddings = FolderList("Embedding folders", embedding_folders)
        hint = plain_label("Studio always looks in its own loras and embeddings folders; it looks "
                           "through these too (subfolders become categories).", "HintLabel", wrap=True)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.loras, 1)
        layout.addWidget(self.embeddings, 1)

    def folders(self) -> tuple[list[str], list[str]]:
        return self.loras.folders(), self.embeddings.folders()
