"""The mask being painted: its pixels, its strokes, its undo history and its overlay.

The mask is a QImage in Format_Alpha8 at the picture's size (255 repaint, 0 keep). A stroke is
painted into it with QPainter as round-capped line segments between pointer positions; only the
rectangle a segment touched is recoloured into the overlay, so a stroke costs the same on a
2048x2048 picture as on a small one. Each stroke is one undo step that keeps only its rectangle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from PIL import Image, ImageFilter
from PySide6.QtCore import QObject, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from studio.ui.mask_history import MaskHistory
from studio.ui.mask_overlay import MaskOverlay, alpha_from_pil, pil_from_alpha

MAX_SOFT_EDGE = 128


class MaskTool(str, Enum):
    BRUSH = "brush"
    ERASER = "eraser"


@dataclass
class _Stroke:
    tool: MaskTool
    size: int
    before: QImage  # the whole mask as it was at the press; cropped to `rect` at the release
    last: QPointF
    rect: QRect  # the bounding rectangle of what it touched
    touched: list[QRect]  # each segment's rectangle: a soft edge is re-blurred around these only


class MaskDocument(QObject):
    """The mask and every edit of it; the canvas shows it and turns the pointer into strokes.

    Signals:
        maskChanged(): after a stroke, undo, redo, clear, invert, or a new mask.
        historyChanged(): what undo and redo can do changed.
        regionChanged(QRect): the overlay changed inside this picture rectangle.
    """

    maskChanged = Signal()
    historyChanged = Signal()
    regionChanged = Signal(QRect)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._mask = QImage()
        self.overlay = MaskOverlay(self)
        self.overlay.changed.connect(self.regionChanged)
        self._history = MaskHistory()
        self._soft_edge = 0
        self._stroke: _Stroke | None = None
        self._empty: bool | None = True  # cached answer of is_empty(); None when unknown

    # -- the whole mask ------------------------------------------------------------------

    def reset(self, size: QSize) -> None:
        """An empty mask of `size` (a new picture); the undo history starts again."""
        self._stroke = None
        self._mask = QImage(size, QImage.Format.Format_Alpha8)
        self._mask.fill(0)
        self._replaced(empty=True)

    def set_mask(self, mask: Image.Image | None) -> None:
        """Replace the mask (None: an empty one); a mask of another size is scaled to fit.
        This is a new starting point: the undo history starts again."""
        self._require_mask()
        self.end_stroke()
        if mask is None:
            self._mask.fill(0)
            self._replaced(empty=True)
            return
        grey = mask.convert("L")
        size = (self._mask.width(), self._mask.height())
        if grey.size != size:
            grey = grey.resize(size, Image.Resampling.BILINEAR)
        self._mask = alpha_from_pil(grey)
        self._replaced(empty=None)

    def _replaced(self, *, empty: bool | None) -> None:
        self._empty = empty
        self._history.clear()
        self.overlay.reset(self._mask)
        self.historyChanged.emit()
        self.maskChanged.emit()

    def is_null(self) -> bool:
        return self._mask.isNull()

    def size(self) -> QSize:
        return self._mask.size()

    def raw_image(self) -> Image.Image:
        """The mask as painted: an "L" image, 255 repaint, 0 keep."""
        self._require_mask()
        return pil_from_alpha(self._mask)

    def image(self) -> Image.Image:
        """The mask to inpaint with: the raw mask blurred by the soft edge (when above 0)."""
        raw = self.raw_image()
        return raw.filter(ImageFilter.GaussianBlur(self._soft_edge)) if self._soft_edge else raw

    def is_empty(self) -> bool:
        """True when nothing is marked for repainting (also when there is no mask)."""
        if self._mask.isNull():
            return True
        if self._empty is None:
            self._empty = self.raw_image().getbbox() is None
        return self._empty

    def soft_edge(self) -> int:
        return self._soft_edge

    def set_soft_edge(self, radius: float) -> int:
        """Blur the exported mask's edge by `radius` pixels (the overlay follows); returns it."""
        self._soft_edge = max(0, min(MAX_SOFT_EDGE, round(radius)))
        self.overlay.set_soft_edge(self._soft_edge)
        return self._soft_edge

    # -- edits ---------------------------------------------------------------------------

    def can_undo(self) -> bool:
        return self._history.can_undo()

    def can_redo(self) -> bool:
        return self._history.can_redo()

    def history_bytes(self) -> int:
        """Memory held by the undo history, in bytes."""
        return self._history.bytes_used()

    def undo(self) -> bool:
        """Take back the last edit; a stroke still being painted ends first and is what goes."""
        self.end_stroke()
        step = self._history.undo()
        if step is None:
            return False
        self._put_patch(step.rect, step.before)
        return True

    def redo(self) -> bool:
        self.end_stroke()
        step = self._history.redo()
        if step is None:
            return False
        self._put_patch(step.rect, step.after)
        return True

    def clear(self) -> None:
        """Mark nothing for repainting (one undo step; none when nothing was marked)."""
        if not self.is_empty():
            self._whole_mask_edit(lambda mask: mask.fill(0))
            self._empty = True

    def invert(self) -> None:
        """Swap what is repainted and what is kept (one undo step)."""
        if not self._mask.isNull():
            self._whole_mask_edit(lambda mask: mask.invertPixels(QImage.InvertMode.InvertRgba))

    def _whole_mask_edit(self, edit: Callable[[QImage], None]) -> None:
        self.end_stroke()
        before = self._mask.copy()
        edit(self._mask)
        self._empty = None
        self._history.push(self._mask.rect(), before, self._mask.copy())
        self.overlay.refresh(self._mask.rect())
        self.historyChanged.emit()
        self.maskChanged.emit()

    def _put_patch(self, rect: QRect, patch: QImage) -> None:
        painter = QPainter(self._mask)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(rect.topLeft(), patch)
        painter.end()
        self._empty = None
        self.overlay.refresh(rect)
        self.historyChanged.emit()
        self.maskChanged.emit()

    # -- strokes -------------------------------------------------------------------------

    def stroking(self) -> bool:
        return self._stroke is not None

    def begin_stroke(self, point: QPointF, tool: MaskTool, size: int) -> None:
        """Start a stroke of `tool`, `size` pixels across, with a dab at `point` (picture pixels)."""
        self._require_mask()
        self.end_stroke()
        self._stroke = _Stroke(tool, size, self._mask.copy(), point, QRect(), [])
        self._paint_segment(point, point)

    def extend_stroke(self, point: QPointF) -> None:
        """Paint from the stroke's last point to `point`."""
        stroke = self._stroke
        if stroke is None:
            return
        delta = point - stroke.last
        if delta.x() * delta.x() + delta.y() * delta.y() < 0.25:
            return  # under half a pixel: repainting the same spot would only harden the edge
        self._paint_segment(stroke.last, point)
        stroke.last = point

    def end_stroke(self) -> None:
        """Finish the stroke in progress (if any) as one undo step."""
        stroke, self._stroke = self._stroke, None
        if stroke is None or stroke.rect.isEmpty():
            return
        before = stroke.before.copy(stroke.rect)
        after = self._mask.copy(stroke.rect)
        if before == after:
            return  # erasing where nothing was marked: no step, no change
        self._history.push(stroke.rect, before, after)
        self._empty = None
        if self._soft_edge:
            for rect in stroke.touched:
                self.overlay.refresh(rect)
        self.historyChanged.emit()
        self.maskChanged.emit()

    def _paint_segment(self, start: QPointF, end: QPointF) -> None:
        stroke = self._stroke
        assert stroke is not None
        painter = QPainter(self._mask)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if stroke.tool is MaskTool.ERASER:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationOut)
        pen = QPen(QColor(0, 0, 0, 255), stroke.size)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if start == end:
            painter.drawPoint(end)  # a round-capped point: one dab of the brush
        else:
            painter.drawLine(start, end)
        painter.end()
        reach = stroke.size / 2 + 2
        box = QRectF(start, end).normalized().adjusted(-reach, -reach, reach, reach)
        dirty = box.toAlignedRect() & self._mask.rect()
        if dirty.isEmpty():
            return
        stroke.rect = stroke.rect | dirty
        stroke.touched.append(dirty)
        # while the button is down the overlay shows the raw stroke; the soft edge follows on release
        self.overlay.show_raw(dirty)

    def _require_mask(self) -> None:
        if self._mask.isNull():
            raise RuntimeError("There is no picture to mask: call set_image first.")
