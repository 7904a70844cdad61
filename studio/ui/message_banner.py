"""The line above the canvas that tells the person what went wrong, or what Studio did at start."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QMessageBox, QPushButton, QWidget

from studio.ui.widgets import plain_label


class MessageBanner(QWidget):
    """A plain-text message (red for a problem, yellow for a notice) with a "Details…" button
    when there is a report behind it. Hidden until there is something to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = plain_label("", "ErrorBanner", wrap=True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details…")
        self.details_button.setToolTip("What happened, for a bug report")
        self.details_button.hide()
        self.details_button.clicked.connect(self._on_details)
        self.details = ""
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.label, 1)
        row.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: str, details: str = "", *, notice: bool = False) -> None:
        if self.label.property("notice") != notice:
            self.label.setProperty("notice", notice)
            self.label.style().unpolish(self.label)
            self.label.style().polish(self.label)
        self.label.setText(message)
        self.details = details
        self.details_button.setVisible(bool(details))
        self.label.show()
        self.show()

    def clear(self) -> None:
        self.label.hide()
        self.details_button.hide()
        self.hide()

    @Slot()
    def _on_details(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("What happened")
        box.setIcon(QMessageBox.Icon.Information)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(self.label.text())
        box.setDetailedText(self.details)  # shown as plain text, selectable for a bug report
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
