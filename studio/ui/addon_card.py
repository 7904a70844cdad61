"""One LoRA or embedding in the picker: its preview picture, name, family, size, short hash and
category, a weight, an Insert button, and its trigger words as chips that add the word.

Every text shown comes from files the person downloaded, so it is set as plain text.

Signals:
    insert_requested(object, float): the AddOn and the weight to write at the prompt cursor.
    word_requested(str): a trigger word to add to the prompt.
    edit_words_requested(object): the AddOn whose trigger words the person wants to change.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QImageReader, QMouseEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QGraphicsOpacityEffect,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.engine.loras.library import AddOn, family_problem
from studio.ui.theme import DIM, FRAME
from studio.ui.widgets import plain_label, plain_tooltip

PREVIEW_SIZE = QSize(96, 96)  # logical pixels; the picture is read at the screen's pixel ratio
MAX_CHIPS = 8  # trigger words shown as chips; the rest are in the tooltip
CHIP_COLUMNS = 3
WEIGHT_RANGE = (-4.0, 4.0)
DIMMED_OPACITY = 0.45


def file_size(size: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"


def preview_pixmap(path: Path | None, size: QSize, ratio: float) -> QPixmap:
    """The picture at `path` cropped to fill `size` at `ratio` device pixels per pixel (read
    scaled, so a large picture costs little), or a neutral placeholder."""
    device = QSize(max(1, round(size.width() * ratio)), max(1, round(size.height() * ratio)))
    if path is not None:
        reader = QImageReader(str(path))
        reader.setAutoTransform(True)
        found = reader.size()
        if found.isValid() and found.width() > 0 and found.height() > 0:
            scale = max(device.width() / found.width(), device.height() / found.height())
            reader.setScaledSize(QSize(max(1, round(found.width() * scale)), max(1, round(found.height() * scale))))
        image = reader.read()
        if not image.isNull():
            x = max(0, (image.width() - device.width()) // 2)
            y = max(0, (image.height() - device.height()) // 2)
            pixmap = QPixmap.fromImage(image.copy(x, y, device.width(), device.height()))
            pixmap.setDevicePixelRatio(ratio)
            return pixmap
    return placeholder_pixmap(device, ratio)


def placeholder_pixmap(device: QSize, ratio: float) -> QPixmap:
    pixmap = QPixmap(device)
    pixmap.fill(QColor(FRAME))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(DIM))
    # a small framed landscape: "no picture", without words to translate
    w, h = device.width(), device.height()
    painter.drawRoundedRect(int(w * 0.3), int(h * 0.32), int(w * 0.4), int(h * 0.36), 3 * ratio, 3 * ratio)
    painter.drawEllipse(int(w * 0.37), int(h * 0.38), int(w * 0.08), int(w * 0.08))
    painter.drawLine(int(w * 0.32), int(h * 0.64), int(w * 0.45), int(h * 0.5))
    painter.drawLine(int(w * 0.45), int(h * 0.5), int(w * 0.68), int(h * 0.66))
    painter.end()
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


class AddOnCard(QFrame):
    insert_requested = Signal(object, float)
    word_requested = Signal(str)
    edit_words_requested = Signal(object)

    def __init__(self, addon: AddOn, prompt_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.addon = addon
        self.prompt_name = prompt_name  # what the prompt writes: the name, or category/name
        self.mismatch: str | None = None
        self.setObjectName("AddOnCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview = QLabel()
        self.preview.setFixedSize(PREVIEW_SIZE)
        self.preview.setPixmap(preview_pixmap(addon.preview, PREVIEW_SIZE, self.devicePixelRatioF()))
        self.name_label = plain_label(addon.name, "AddOnName", wrap=True)
        self.name_label.setStyleSheet("font-weight: bold")
        kind = "LoRA" if addon.kind == "lora" else "Embedding"
        facts = [kind, addon.family if addon.family != "unknown" else "family unknown", file_size(addon.size)]
        if addon.short_hash:
            facts.append(addon.short_hash)
        self.facts_label = plain_label(" · ".join(facts), "HintLabel", wrap=True)  # wraps in a narrow dock
        self.category_label = plain_label(addon.category or "", "HintLabel", wrap=True)
        self.category_label.setVisible(bool(addon.category))
        self.problem_label = plain_label(addon.problem, "ProblemLabel", wrap=True)
        self.problem_label.setVisible(bool(addon.problem))
        self.weight = QDoubleSpinBox()
        self.weight.setRange(*WEIGHT_RANGE)
        self.weight.setSingleStep(0.05)
        self.weight.setDecimals(2)
        self.weight.setValue(1.0)
        self.weight.setToolTip("The weight written into the prompt")
        self.insert_button = QPushButton("Insert")
        self.insert_button.setToolTip(plain_tooltip(f"Write {self.snippet_preview()} at the prompt cursor"))
        self.insert_button.setEnabled(addon.usable)
        self.insert_button.clicked.connect(self._on_insert)
        self.chips: list[QToolButton] = []

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.name_label)
        text.addWidget(self.facts_label)
        text.addWidget(self.category_label)
        text.addWidget(self.problem_label)
        chips = QGridLayout()
        chips.setSpacing(4)
        for i, word in enumerate(addon.trigger_words[:MAX_CHIPS]):
            chip = QToolButton()
            chip.setObjectName("TriggerChip")
            chip.setText(word)  # a button's text is never rich text
            chip.setToolTip(plain_tooltip(f"Add “{word}” to the prompt"))
            chip.clicked.connect(lambda _checked=False, w=word: self.word_requested.emit(w))
            chips.addWidget(chip, i // CHIP_COLUMNS, i % CHIP_COLUMNS, Qt.AlignmentFlag.AlignLeft)
            self.chips.append(chip)
        chips.setColumnStretch(CHIP_COLUMNS, 1)  # the chips stay together at the left
        text.addLayout(chips)
        if len(addon.trigger_words) > MAX_CHIPS:
            more = plain_label(f"and {len(addon.trigger_words) - MAX_CHIPS} more", "HintLabel")
            more.setToolTip(plain_tooltip(", ".join(addon.trigger_words[MAX_CHIPS:])))
            text.addWidget(more)
        self.edit_words_button = QToolButton()
        self.edit_words_button.setObjectName("EditTriggerWords")
        self.edit_words_button.setText("Edit trigger words…")
        self.edit_words_button.setAutoRaise(True)  # a small link under the chips, not a big button
        self.edit_words_button.setToolTip("Change the words the chips add; they are kept for this file")
        self.edit_words_button.clicked.connect(lambda: self.edit_words_requested.emit(self.addon))
        text.addWidget(self.edit_words_button, 0, Qt.AlignmentFlag.AlignLeft)
        text.addStretch(1)  # the facts stay under the name; the weight row goes to the bottom
        actions = QHBoxLayout()
        actions.addWidget(plain_label("Weight", "HintLabel"))
        actions.addWidget(self.weight)
        actions.addStretch(1)
        actions.addWidget(self.insert_button)
        text.addLayout(actions)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(10)
        layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        self.set_model_family("")

    def snippet_preview(self) -> str:
        return f"<lora:{self.prompt_name}:…>" if self.addon.kind == "lora" else self.prompt_name

    def set_model_family(self, family: str) -> None:
        """Dim the card, with a tooltip naming both families, when it is for another family."""
        self.mismatch = family_problem(self.addon, family) if family else None
        if self.mismatch:
            effect = QGraphicsOpacityEffect(self)
            effect.setOpacity(DIMMED_OPACITY)
            self.setGraphicsEffect(effect)
            self.setToolTip(plain_tooltip(self.mismatch))
        else:
            self.setGraphicsEffect(None)  # type: ignore[arg-type]
            self.setToolTip(plain_tooltip(self.addon.problem) if self.addon.problem else "")

    @property
    def dimmed(self) -> bool:
        return self.mismatch is not None

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._on_insert()
        super().mouseDoubleClickEvent(event)

    def _on_insert(self) -> None:
        if self.addon.usable:
            self.insert_requested.emit(self.addon, float(self.weight.value()))
