"""The central canvas: the live preview while a run goes, then the final image."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.ui import theme

if TYPE_CHECKING:
    import numpy as np


def image_from_array(array: np.ndarray) -> QImage:
    """A QImage that owns a copy of an HxWx3 uint8 array. GUI thread only."""
    import numpy as np

    data = np.ascontiguousarray(array[..., :3], dtype=np.uint8)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()  # detach from the numpy buffer


def fit_rect(content: QSize, area: QRect) -> QRect:
    """Where `content` goes inside `area`: whole-number zoom when enlarging, so pixels stay square."""
    if content.isEmpty() or area.isEmpty():
        return QRect()
    scale = min(area.width() / content.width(), area.height() / content.height())
    if scale >= 1:
        scale = math.floor(scale)
    width = max(1, round(content.width() * scale))
    height = max(1, round(content.height() * scale))
    left = area.left() + (area.width() - width) // 2
    top = area.top() + (area.height() - height) // 2
    return QRect(left, top, width, height)


class PreviewView(QWidget):
    """Paints one image scaled to fit: nearest-neighbour when enlarging (crisp, no blur),
    smooth when shrinking. A preview is drawn at the size the final image will have."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Canvas")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 240)
        self._pixmap: QPixmap | None = None
        self._frame = QSize()  # the size the image stands for (the final image's size)
        self._scaled: tuple[tuple[int, int, int, float], QPixmap] | None = None
        self._placeholder = "Type a prompt and press Generate (Ctrl+Enter)."
        self.paint_count = 0

    # -- content ---------------------------------------------------------------------

    def show_array(self, array: np.ndarray, frame: QSize | None = None) -> None:
        """Show an HxWx3 uint8 image; `frame` is the size it stands for (a preview is smaller)."""
        self._pixmap = QPixmap.fromImage(image_from_array(array))
        self._frame = frame if frame is not None and not frame.isEmpty() else self._pixmap.size()
        self._scaled = None
        self.update()

    def show_pixmap(self, pixmap: QPixmap) -> None:
        self._pixmap = pixmap
        self._frame = pixmap.size()
        self._scaled = None
        self.update()

    def clear(self, placeholder: str | None = None) -> None:
        self._pixmap = None
        self._scaled = None
        if placeholder is not None:
            self._placeholder = placeholder
        self.update()

    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    def image_rect(self) -> QRect:
        """Where the image is painted, in widget coordinates."""
        if self._pixmap is None:
            return QRect()
        return fit_rect(self._frame, self.rect().adjusted(16, 16, -16, -16))

    # -- painting --------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(theme.CANVAS))
        if self._pixmap is None or self._pixmap.isNull():
            painter.setPen(QColor(theme.DIM))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            painter.end()
            return
        target = self.image_rect()
        source = self._pixmap
        # what the painter covers in device pixels: twice the widget's size on a 200% screen
        ratio = painter.device().devicePixelRatioF()
        pixels = QSize(math.ceil(target.width() * ratio), math.ceil(target.height() * ratio))
        if source.width() > pixels.width() or source.height() > pixels.height():
            painter.drawPixmap(target.topLeft(), self._shrunk(source, pixels, ratio))
        else:
            # enlarging: nearest neighbour keeps tiny previews crisp instead of blurred
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawPixmap(target, source)
        painter.setPen(QColor(theme.FRAME))
        painter.drawRect(target.adjusted(-1, -1, 0, 0))
        painter.end()
        self.paint_count += 1

    def _shrunk(self, source: QPixmap, pixels: QSize, ratio: float) -> QPixmap:
        """`source` smoothly scaled to `pixels` device pixels, marked with the screen's ratio so
        it is drawn one pixel per device pixel (crisp on a 200% screen, not doubled)."""
        key = (source.cacheKey(), pixels.width(), pixels.height(), ratio)
        if self._scaled is None or self._scaled[0] != key:
            scaled = source.scaled(
                pixels, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            scaled.setDevicePixelRatio(ratio)
            self._scaled = (key, scaled)
        return self._scaled[1]

    def painted_pixmap(self) -> QPixmap | None:
        """The shrunk copy made for the current image and size, or None while none was needed."""
        return self._scaled[1] if self._scaled is not None else None
