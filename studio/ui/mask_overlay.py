"""What the artist sees of the mask: a translucent colour, with the soft edge blurred in.

The overlay is an ARGB image at the picture's size, recoloured from the mask only where the mask
changed. With a soft edge, the blur is redone a tile at a time between events, visible tiles
first, so a long stroke or a new blur radius never holds the GUI thread for the whole picture.
"""

from __future__ import annotations

import math
import time

from PIL import Image, ImageFilter
from PySide6.QtCore import QObject, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter

OVERLAY_COLOR = "#ff2d55"  # a strong red, as in quick-mask modes: reads over skin, sky and foliage
# Where the picture itself is mostly red, a red overlay vanishes into it: the first of these
# that stands apart from the picture's colours is used instead.
OVERLAY_CHOICES = ("#ff2d55", "#2dff8c", "#2dc8ff", "#ffd22d")
TILE = 256
TICK_BUDGET_S = 0.004  # blur work per event-loop pass, leaving most of a 16 ms frame to input and paint
SETTLE_MS = 40  # a soft-edge slider sends many values: re-blur once they stop


def alpha_from_pil(mask: Image.Image) -> QImage:
    """A Format_Alpha8 copy of an "L" image (its values become the alpha)."""
    data = mask.tobytes()
    return QImage(data, mask.width, mask.height, mask.width, QImage.Format.Format_Alpha8).copy()


def overlay_color_for(picture: QImage) -> str:
    """The overlay colour that stands furthest apart from most of `picture`'s pixels (judged on
    a small copy: the 10th percentile of each candidate's distance to them)."""
    import numpy as np

    small = picture.scaled(64, 64, Qt.AspectRatioMode.KeepAspectRatio,
                           Qt.TransformationMode.FastTransformation).convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = small.width(), small.height(), small.bytesPerLine()
    if not width or not height:
        return OVERLAY_COLOR
    rows = np.frombuffer(small.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    pixels = rows[:, : width * 3].reshape(-1, 3).astype(np.float32)

    def separation(name: str) -> float:
        color = QColor(name)
        target = np.array([color.red(), color.green(), color.blue()], dtype=np.float32)
        return float(np.percentile(np.linalg.norm(pixels - target, axis=1), 10))

    return max(OVERLAY_CHOICES, key=lambda name: (separation(name) > 140, name == OVERLAY_COLOR, separation(name)))


def pil_from_alpha(mask: QImage) -> Image.Image:
    """An "L" image with the alpha bytes of a Format_Alpha8 image."""
    size = (mask.width(), mask.height())
    return Image.frombytes("L", size, bytes(mask.constBits()), "raw", "L", mask.bytesPerLine())


def blur_reach(radius: int) -> int:
    """How far (in pixels) Pillow's Gaussian blur of `radius` carries a change; 0 without blur."""
    return 0 if radius <= 0 else math.ceil(3 * radius) + 4


class MaskOverlay(QObject):
    """Keeps the overlay image in step with the mask it is given.

    Signals:
        changed(QRect): the overlay changed inside this picture rectangle.
    """

    changed = Signal(QRect)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mask = QImage()
        self._image = QImage()
        self._color = QColor(OVERLAY_COLOR)
        self._soft_edge = 0
        self._pending: dict[tuple[int, int], None] = {}  # tiles to re-blur, in the order asked
        self._visible = QRect()
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._on_settled)
        self._pump = QTimer(self)
        self._pump.setSingleShot(True)
        self._pump.setInterval(0)
        self._pump.timeout.connect(self._on_pump)

    def image(self) -> QImage:
        return self._image

    def alpha(self, x: int, y: int) -> int:
        return self._image.pixelColor(x, y).alpha()

    def is_current(self) -> bool:
        """True when no re-blur is waiting: the overlay shows the mask as it is."""
        return not self._pending and not self._settle.isActive()

    def set_visible(self, rect: QRect) -> None:
        """The picture rectangle on screen: its tiles are re-blurred first."""
        self._visible = QRect(rect)

    def reset(self, mask: QImage) -> None:
        """Follow a new mask (a new picture, or a mask replaced whole)."""
        self._mask = mask
        self._pending.clear()
        self._image = QImage(mask.size(), QImage.Format.Format_ARGB32_Premultiplied)
        self._image.fill(0)
        self.refresh(mask.rect())

    def set_color(self, color: str) -> None:
        if QColor(color) != self._color:
            self._color = QColor(color)
            if not self._mask.isNull():
                self.refresh(self._mask.rect())

    def color(self) -> str:
        return str(self._color.name())

    def set_soft_edge(self, radius: int) -> None:
        if radius != self._soft_edge:
            self._soft_edge = radius
            self._pending.clear()
            if not self._mask.isNull():
                self._settle.start()

    def show_raw(self, rect: QRect) -> None:
        """Show the mask inside `rect` as it is, without the soft edge (while a stroke goes on)."""
        self._compose(rect, self._mask, rect)
        self.changed.emit(rect)

    def refresh(self, rect: QRect) -> None:
        """The mask changed inside `rect`: recolour it now, or re-blur around it soon."""
        bounds = self._mask.rect()
        if not self._soft_edge:
            rect = rect & bounds
            if not rect.isEmpty():
                self._compose(rect, self._mask, rect)
                self.changed.emit(rect)
            return
        grow = blur_reach(self._soft_edge)
        rect = rect.adjusted(-grow, -grow, grow, grow) & bounds
        if rect.isEmpty():
            return
        tile = self._tile()
        for row in range(rect.top() // tile, rect.bottom() // tile + 1):
            for column in range(rect.left() // tile, rect.right() // tile + 1):
                self._pending[(column, row)] = None
        self._pump.start()

    def _tile(self) -> int:
        # a tile at least four times the blur's reach, so the margin stays a fraction of the work
        return TILE * max(1, math.ceil(4 * blur_reach(self._soft_edge) / TILE))

    @Slot()
    def _on_settled(self) -> None:
        self.refresh(self._mask.rect())

    @Slot()
    def _on_pump(self) -> None:
        tile = self._tile()
        bounds = self._mask.rect()
        visible = self._visible
        order = sorted(
            self._pending,
            key=lambda t: not QRect(t[0] * tile, t[1] * tile, tile, tile).intersects(visible),
        )
        deadline = time.perf_counter() + TICK_BUDGET_S
        for key in order:
            del self._pending[key]
            rect = QRect(key[0] * tile, key[1] * tile, tile, tile) & bounds
            self._blur_into(rect)
            self.changed.emit(rect)
            if time.perf_counter() > deadline:
                break
        if self._pending:
            self._pump.start()

    def _blur_into(self, rect: QRect) -> None:
        """Recolour `rect` from the blurred mask; the same pixels as blurring the whole mask."""
        if rect.isEmpty():
            return
        if not self._soft_edge:
            self._compose(rect, self._mask, rect)
            return
        grow = blur_reach(self._soft_edge)
        outer = rect.adjusted(-grow, -grow, grow, grow) & self._mask.rect()
        blurred = pil_from_alpha(self._mask.copy(outer)).filter(ImageFilter.GaussianBlur(self._soft_edge))
        left, top = rect.x() - outer.x(), rect.y() - outer.y()
        inner = blurred.crop((left, top, left + rect.width(), top + rect.height()))
        self._compose(rect, alpha_from_pil(inner), QRect(0, 0, rect.width(), rect.height()))

    def _compose(self, rect: QRect, alpha: QImage, source: QRect) -> None:
        painter = QPainter(self._image)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.fillRect(rect, self._color)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        painter.drawImage(rect.topLeft(), alpha, source)
        painter.end()
