"""Before/after: two pictures on top of each other, split by a handle the mouse drags.

Left of the handle is picture A (before), right of it picture B (after); both are drawn at
the same place and scale, so what changed stays where it was.

Signals: position_changed(float): the handle moved, as a fraction of the width.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

HANDLE_WIDTH = 2


class CompareSlider(QWidget):
    position_changed = Signal(float)

    def __init__(self, before: QImage, after: QImage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._before = before
        self._after = after
        self._position = 0.5
        self.setMinimumSize(128, 128)
        self.setMouseTracking(False)
        self.setCursor(Qt.CursorShape.SplitHCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Before and after")

    def sizeHint(self) -> QSize:
        size = self._before.size().expandedTo(self._after.size())
        return size.expandedTo(QSize(256, 256)).boundedTo(QSize(1024, 1024))

    def position(self) -> float:
        return self._position

    def set_position(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if fraction != self._position:
            self._position = fraction
            self.update()
            self.position_changed.emit(fraction)

    def picture_rect(self) -> QRectF:
        """Where both pictures are drawn: the after picture's shape, fitted and centred."""
        size = self._after.size() if not self._after.isNull() else self._before.size()
        if size.isEmpty():
            return QRectF(self.rect())
        scale = min(self.width() / size.width(), self.height() / size.height())
        width, height = size.width() * scale, size.height() * scale
        return QRectF((self.width() - width) / 2, (self.height() - height) / 2, width, height)

    def handle_x(self) -> float:
        area = self.picture_rect()
        return area.left() + area.width() * self._position

    def paintEvent(self, _event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), self.palette().window())
        area = self.picture_rect()
        split = self.handle_x()
        painter.save()
        painter.setClipRect(QRectF(area.left(), area.top(), split - area.left(), area.height()))
        painter.drawImage(area, self._before)
        painter.restore()
        painter.save()
        painter.setClipRect(QRectF(split, area.top(), area.right() - split, area.height()))
        painter.drawImage(area, self._after)
        painter.restore()
        # A light line with a dark edge reads on dark and light pictures alike.
        painter.setPen(QPen(QColor(0, 0, 0, 160), HANDLE_WIDTH + 2))
        painter.drawLine(QPointF(split, area.top()), QPointF(split, area.bottom()))
        painter.setPen(QPen(QColor(255, 255, 255), HANDLE_WIDTH))
        painter.drawLine(QPointF(split, area.top()), QPointF(split, area.bottom()))
        painter.setBrush(QColor(255, 255, 255))
        painter.drawEllipse(QPointF(split, area.center().y()), 7, 7)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._follow(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._follow(event)

    def keyPressEvent(self, event: object) -> None:
        key = getattr(event, "key", lambda: None)()
        if key == Qt.Key.Key_Left:
            self.set_position(self._position - 0.05)
        elif key == Qt.Key.Key_Right:
            self.set_position(self._position + 0.05)
        else:
            super().keyPressEvent(event)  # type: ignore[arg-type]

    def _follow(self, event: QMouseEvent) -> None:
        area = self.picture_rect()
        if area.width() > 0:
            self.set_position((event.position().x() - area.left()) / area.width())


class CompareDialog(QDialog):
    """A window with the slider and the two pictures' names under it."""

    def __init__(self, before: QImage, after: QImage, before_name: str, after_name: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare")
        self.slider = CompareSlider(before, after, self)
        names = QLabel(self)
        names.setTextFormat(Qt.TextFormat.PlainText)  # file names are the user's text
        names.setWordWrap(True)  # long file names wrap instead of widening the window
        names.setText(f"Left: {before_name}\nRight: {after_name}\nDrag the handle, or press ← →.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.slider, 1)
        layout.addWidget(names)
        self.slider.position_changed.connect(self._on_moved)

    @Slot(float)
    def _on_moved(self, _fraction: float) -> None:
        self.slider.setToolTip(f"{self.slider.position():.0%} before")


def open_compare(before: Path, after: Path, parent: QWidget | None = None) -> CompareDialog | None:
    """Show two picture files side by side in a compare window; None when either cannot be read."""
    first, second = QImage(str(before)), QImage(str(after))
    if first.isNull() or second.isNull():
        return None
    dialog = CompareDialog(first, second, before.name, after.name, parent)
    dialog.resize(dialog.slider.sizeHint() + QSize(24, 60))
    dialog.show()
    return dialog
