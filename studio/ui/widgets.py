"""Small widgets the panels share."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QWidget,
)


def plain_label(text: str = "", object_name: str = "", *, wrap: bool = False) -> QLabel:
    """A QLabel that never interprets its text as rich text."""
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    if object_name:
        label.setObjectName(object_name)
    label.setWordWrap(wrap)
    return label


def section_label(text: str) -> QLabel:
    return plain_label(text.upper(), "SectionLabel")


class ElidedLabel(QLabel):
    """One line of plain text, cut in the middle with an ellipsis when the label is narrower
    than the text: a long file name keeps its start and its extension. `full_text()` is the whole."""

    def __init__(self, object_name: str = "") -> None:
        super().__init__()
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setObjectName(object_name)
        self._full = ""

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle, width))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()


def plain_tooltip(text: str) -> str:
    """Tooltip markup that shows `text` literally: Qt guesses rich text for tooltips."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>"


class SlidingSpinBox(QWidget):
    """A slider beside a spin box, kept in step. The spin box holds the value; the slider
    covers the common range and the spin box the full one.

    Signals:
        valueChanged(float): the value changed, from either control.
    """

    valueChanged = Signal(float)

    def __init__(
        self,
        minimum: float,
        maximum: float,
        *,
        slider_max: float | None = None,
        decimals: int = 0,
        step: float = 1.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._scale = 10**decimals
        self.spin: QSpinBox | QDoubleSpinBox
        if decimals:
            spin = QDoubleSpinBox()
            spin.setDecimals(decimals)
            self.spin = spin
        else:
            self.spin = QSpinBox()
        self.spin.setRange(minimum, maximum)  # type: ignore[arg-type]
        self.spin.setSingleStep(step)  # type: ignore[arg-type]
        self.spin.setKeyboardTracking(False)
        self.spin.setFixedWidth(64)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        top = slider_max if slider_max is not None else maximum
        self.slider.setRange(round(minimum * self._scale), round(top * self._scale))
        self.slider.setSingleStep(round(step * self._scale))
        self.slider.setPageStep(round(step * self._scale * 5))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)

    def value(self) -> float:
        return float(self.spin.value())

    def setValue(self, value: float) -> None:
        self.spin.setValue(value)  # type: ignore[arg-type]

    @Slot(int)
    def _on_slider(self, position: int) -> None:
        value = position / self._scale
        if abs(value - self.value()) >= 0.5 / self._scale:
            self.spin.setValue(value)  # type: ignore[arg-type]

    @Slot()
    def _on_spin(self) -> None:
        value = self.value()
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * self._scale))
        self.slider.blockSignals(False)
        self.valueChanged.emit(value)


class SeedSpinBox(QDoubleSpinBox):
    """A whole-number spin box for seeds up to 2**32 - 1 (QSpinBox stops at 2**31 - 1)."""

    def __init__(self, maximum: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(0)
        self.setRange(0, maximum)
        self.setSingleStep(1)
        self.setKeyboardTracking(False)
        self._random = False

    def seed(self) -> int:
        return int(self.value())

    def set_random(self, random: bool) -> None:
        """Show "random" instead of the number while every run draws its own seed."""
        self._random = random
        self.setEnabled(not random)
        self.lineEdit().setText(self.textFromValue(self.value()))

    def textFromValue(self, value: float) -> str:
        # Qt asks for text while the base class is still being set up
        return "random" if getattr(self, "_random", False) else str(int(value))
