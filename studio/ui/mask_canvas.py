"""The mask canvas: a picture with the inpainting mask painted over it, zoomed and panned.

The mask is a QImage in Format_Alpha8 at the picture's size (255 repaint, 0 keep). A stroke is
painted into it with QPainter as round-capped line segments between mouse positions, and only
the touched rectangle is recoloured into the overlay and repainted on screen, so painting costs
the same on a 2048x2048 picture as on a small one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from PIL import Image, ImageFilter
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QFocusEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.ui import theme
from studio.ui.mask_history import MaskHistory

OVERLAY_COLOR = "#ff3d71"  # a warm rose: reads over skin, sky and foliage, unlike the violet accent
OVERLAY_OPACITY = 0.5
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch
FIT_MARGIN = 16
MIN_SIZE, MAX_SIZE = 1, 1024
MAX_SOFT_EDGE = 128
SMALLEST_LEVEL = 256  # the picture is kept halved down to about this size, for clean zoomed-out views


class MaskTool(str, Enum):
    BRUSH = "brush"
    ERASER = "eraser"


def picture_from_pil(image: Image.Image | QImage) -> QImage:
    """An opaque Format_RGB32 copy of a PIL image or a QImage (the fastest format to draw)."""
    if isinstance(image, QImage):
        return image.convertToFormat(QImage.Format.Format_RGB32)
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    wrapped = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return wrapped.convertToFormat(QImage.Format.Format_RGB32)  # a copy: `data` may go


def alpha_from_pil(mask: Image.Image) -> QImage:
    """A Format_Alpha8 copy of an "L" image (its values become the alpha)."""
    data = mask.tobytes()
    return QImage(data, mask.width, mask.height, mask.width, QImage.Format.Format_Alpha8).copy()


def pil_from_alpha(mask: QImage) -> Image.Image:
    """An "L" image with the alpha bytes of a Format_Alpha8 image."""
    size = (mask.width(), mask.height())
    return Image.frombytes("L", size, bytes(mask.constBits()), "raw", "L", mask.bytesPerLine())


def blur_reach(radius: int) -> int:
    """How far (in pixels) Pillow's Gaussian blur of `radius` carries a change; 0 without blur."""
    return 0 if radius <= 0 else math.ceil(3 * radius) + 4


@dataclass
class _Stroke:
    before: QImage  # the whole mask as it was at the press; cropped to `rect` at the release
    last: QPointF
    rect: QRect


class MaskCanvas(QWidget):
    """Shows the picture with the mask over it in a translucent colour, and paints the mask.

    Left button paints with the current tool; the middle button, or Space held with the left
    button, pans; the wheel zooms around the cursor. Each stroke is one undo step.

    Signals:
        maskChanged(): after a stroke, undo, redo, clear, invert, or a new mask or picture.
        historyChanged(): what undo and redo can do changed.
        toolChanged(str): the tool ("brush" or "eraser").
        brushSizeChanged(int): the brush diameter, in picture pixels.
        softEdgeChanged(int): the blur radius of the exported mask, in picture pixels.
        zoomChanged(float): screen pixels per picture pixel.
    """

    maskChanged = Signal()
    historyChanged = Signal()
    toolChanged = Signal(str)
    brushSizeChanged = Signal(int)
    softEdgeChanged = Signal(int)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MaskCanvas")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 200)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)  # the brush outline follows the cursor without a button held
        self._levels: list[QImage] = []  # the picture, then halved copies
        self._mask = QImage()
        self._overlay = QImage()
        self._color = QColor(OVERLAY_COLOR)
        self._history = MaskHistory()
        self._tool = MaskTool.BRUSH
        self._size = 40
        self._soft_edge = 0
        self._scale = 1.0
        self._offset = QPointF(0, 0)
        self._fitted = True  # follow the widget's size until the artist zooms or pans
        self._stroke: _Stroke | None = None
        self._pan_from: QPointF | None = None
        self._space_held = False
        self._hover: QPointF | None = None
        self._empty: bool | None = True  # cached answer of is_empty(); None when unknown
        # a soft-edge slider sends many values: the whole overlay is re-blurred once they settle
        self._reblur = QTimer(self)
        self._reblur.setSingleShot(True)
        self._reblur.setInterval(40)
        self._reblur.timeout.connect(self._on_reblur)
        self._update_cursor_shape()

    # -- content ---------------------------------------------------------------------

    def set_image(self, image: Image.Image | QImage) -> None:
        """Show `image` with an empty mask of its size; the undo history starts again."""
        picture = picture_from_pil(image)
        if picture.isNull():
            raise ValueError("The picture is empty.")
        self._cancel_gestures()
        levels = [picture]
        while min(levels[-1].width(), levels[-1].height()) > 2 * SMALLEST_LEVEL:
            last = levels[-1]
            levels.append(
                last.scaled(
                    max(1, last.width() // 2),
                    max(1, last.height() // 2),
                    Qt.AspectRatioMode.IgnoreAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        self._levels = levels
        self._mask = QImage(picture.size(), QImage.Format.Format_Alpha8)
        self._mask.fill(0)
        self._overlay = QImage(picture.size(), QImage.Format.Format_ARGB32_Premultiplied)
        self._overlay.fill(0)
        self._empty = True
        self._history.clear()
        self.fit_to_view()
        self.historyChanged.emit()
        self.maskChanged.emit()

    def set_mask(self, mask: Image.Image | None) -> None:
        """Replace the mask (None: an empty one); a mask of another size is scaled to the picture's.
        This is a new starting point: the undo history starts again."""
        self._require_picture()
        self._cancel_gestures()
        if mask is None:
            self._mask.fill(0)
            self._empty = True
        else:
            grey = mask.convert("L")
            size = (self._mask.width(), self._mask.height())
            if grey.size != size:
                grey = grey.resize(size, Image.Resampling.BILINEAR)
            self._mask = alpha_from_pil(grey)
            self._empty = None
        self._history.clear()
        self._refresh_overlay(self._mask.rect())
        self.update()
        self.historyChanged.emit()
        self.maskChanged.emit()

    def has_image(self) -> bool:
        return bool(self._levels)

    def image_size(self) -> QSize:
        return self._levels[0].size() if self._levels else QSize()

    def raw_mask_image(self) -> Image.Image:
        """The mask as painted: an "L" image of the picture's size, 255 repaint, 0 keep."""
        self._require_picture()
        return pil_from_alpha(self._mask)

    def mask_image(self) -> Image.Image:
        """The mask to inpaint with: the raw mask blurred by the soft edge (when above 0)."""
        raw = self.raw_mask_image()
        return raw.filter(ImageFilter.GaussianBlur(self._soft_edge)) if self._soft_edge else raw

    def is_empty(self) -> bool:
        """True when nothing is marked for repainting (also when there is no picture)."""
        if not self._levels:
            return True
        if self._empty is None:
            self._empty = self.raw_mask_image().getbbox() is None
        return self._empty

    def overlay_alpha(self, x: int, y: int) -> int:
        """The overlay's opacity (0-255) at a picture pixel: what the artist sees marked there."""
        return self._overlay.pixelColor(x, y).alpha()

    # -- tools -----------------------------------------------------------------------

    def tool(self) -> MaskTool:
        return self._tool

    def set_tool(self, tool: MaskTool | str) -> None:
        tool = MaskTool(tool)
        if tool != self._tool:
            self._tool = tool
            self._update_hover()
            self.toolChanged.emit(tool.value)

    def brush_size(self) -> int:
        return self._size

    def set_brush_size(self, size: float) -> None:
        size = max(MIN_SIZE, min(MAX_SIZE, round(size)))
        if size != self._size:
            self._update_hover()  # the old outline
            self._size = size
            self._update_hover()
            self._update_cursor_shape()
            self.brushSizeChanged.emit(size)

    def soft_edge(self) -> int:
        return self._soft_edge

    def set_soft_edge(self, radius: float) -> None:
        """Blur the exported mask's edge by `radius` picture pixels; the overlay shows it too."""
        radius = max(0, min(MAX_SOFT_EDGE, round(radius)))
        if radius != self._soft_edge:
            self._soft_edge = radius
            if self._levels:
                self._reblur.start()
            self.softEdgeChanged.emit(radius)

    # -- edits -----------------------------------------------------------------------

    def can_undo(self) -> bool:
        return self._history.can_undo()

    def can_redo(self) -> bool:
        return self._history.can_redo()

    def history_bytes(self) -> int:
        """Memory held by the undo history, in bytes."""
        return self._history.bytes_used()

    def undo(self) -> bool:
        step = self._history.undo()
        if step is None:
            return False
        self._put_patch(step.rect, step.before)
        return True

    def redo(self) -> bool:
        step = self._history.redo()
        if step is None:
            return False
        self._put_patch(step.rect, step.after)
        return True

    def clear_mask(self) -> None:
        """Mark nothing for repainting (one undo step)."""
        if self._levels and not self.is_empty():
            self._whole_mask_edit(lambda mask: mask.fill(0))
            self._empty = True

    def invert_mask(self) -> None:
        """Swap what is repainted and what is kept (one undo step)."""
        if self._levels:
            self._whole_mask_edit(lambda mask: mask.invertPixels(QImage.InvertMode.InvertRgba))
            self._empty = None

    def _whole_mask_edit(self, edit: Callable[[QImage], None]) -> None:
        self._cancel_gestures()
        before = self._mask.copy()
        edit(self._mask)
        self._history.push(self._mask.rect(), before, self._mask.copy())
        self._refresh_overlay(self._mask.rect())
        self.update()
        self.historyChanged.emit()
        self.maskChanged.emit()

    def _put_patch(self, rect: QRect, patch: QImage) -> None:
        self._cancel_gestures()
        painter = QPainter(self._mask)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(rect.topLeft(), patch)
        painter.end()
        self._empty = None
        touched = self._reach(rect)
        self._refresh_overlay(touched)
        self.update(self._view_rect(touched))
        self.historyChanged.emit()
        self.maskChanged.emit()

    # -- strokes ---------------------------------------------------------------------

    def _begin_stroke(self, point: QPointF) -> None:
        self._stroke = _Stroke(before=self._mask.copy(), last=point, rect=QRect())
        self._paint_segment(point, point)

    def _continue_stroke(self, point: QPointF) -> None:
        stroke = self._stroke
        assert stroke is not None
        delta = point - stroke.last
        if delta.x() * delta.x() + delta.y() * delta.y() < 0.25:
            return  # under half a pixel: repainting the same spot would only harden the edge
        self._paint_segment(stroke.last, point)
        stroke.last = point

    def _end_stroke(self) -> None:
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
            touched = self._reach(stroke.rect)
            self._refresh_overlay(touched)
            self.update(self._view_rect(touched))
        self.historyChanged.emit()
        self.maskChanged.emit()

    def _paint_segment(self, start: QPointF, end: QPointF) -> None:
        stroke = self._stroke
        assert stroke is not None
        painter = QPainter(self._mask)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._tool is MaskTool.ERASER:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationOut)
        pen = QPen(QColor(0, 0, 0, 255), self._size)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        if start == end:
            painter.drawPoint(end)  # a round-capped point: one dab of the brush
        else:
            painter.drawLine(start, end)
        painter.end()
        reach = self._size / 2 + 2
        box = QRectF(start, end).normalized().adjusted(-reach, -reach, reach, reach)
        dirty = box.toAlignedRect() & self._mask.rect()
        if dirty.isEmpty():
            return
        stroke.rect = stroke.rect | dirty
        # while the button is down the overlay shows the raw stroke; the soft edge follows on release
        self._compose_overlay(dirty, self._mask, dirty)
        self.update(self._view_rect(dirty))

    def _cancel_gestures(self) -> None:
        """End a stroke (keeping what was painted as one step) or a pan in progress."""
        if self._stroke is not None:
            self._end_stroke()
        self._pan_from = None
        self._update_cursor_shape()

    # -- overlay ---------------------------------------------------------------------

    def _reach(self, rect: QRect) -> QRect:
        """`rect` grown by how far the soft edge spreads a change, within the picture."""
        grow = blur_reach(self._soft_edge)
        return rect.adjusted(-grow, -grow, grow, grow) & self._mask.rect()

    def _refresh_overlay(self, rect: QRect) -> None:
        """Recolour the overlay inside `rect` from the mask, blurred when there is a soft edge."""
        if rect.isEmpty():
            return
        if not self._soft_edge:
            self._compose_overlay(rect, self._mask, rect)
            return
        grow = blur_reach(self._soft_edge)
        outer = rect.adjusted(-grow, -grow, grow, grow) & self._mask.rect()
        blurred = pil_from_alpha(self._mask.copy(outer)).filter(ImageFilter.GaussianBlur(self._soft_edge))
        left, top = rect.x() - outer.x(), rect.y() - outer.y()
        inner = blurred.crop((left, top, left + rect.width(), top + rect.height()))
        self._compose_overlay(rect, alpha_from_pil(inner), QRect(0, 0, rect.width(), rect.height()))

    def _compose_overlay(self, rect: QRect, alpha: QImage, source: QRect) -> None:
        painter = QPainter(self._overlay)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.fillRect(rect, self._color)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        painter.drawImage(rect.topLeft(), alpha, source)
        painter.end()

    @Slot()
    def _on_reblur(self) -> None:
        if self._levels:
            self._refresh_overlay(self._mask.rect())
            self.update()

    # -- view ------------------------------------------------------------------------

    def zoom(self) -> float:
        return self._scale

    def view_to_image(self, point: QPointF) -> QPointF:
        return (point - self._offset) / self._scale

    def image_to_view(self, point: QPointF) -> QPointF:
        return self._offset + point * self._scale

    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to `scale`, keeping the picture point under `anchor` (default: the centre) still."""
        scale = max(MIN_ZOOM, min(MAX_ZOOM, scale))
        if anchor is None:
            anchor = QPointF(self.width() / 2, self.height() / 2)
        point = self.view_to_image(anchor)
        self._scale = scale
        self._offset = anchor - point * scale
        self._fitted = False
        self._clamp_offset()
        self._view_changed()

    def fit_to_view(self) -> None:
        """Show the whole picture, as large as fits (and follow the widget's size)."""
        self._fitted = True
        if not self._levels:
            return
        size = self.image_size()
        width = max(1, self.width() - 2 * FIT_MARGIN)
        height = max(1, self.height() - 2 * FIT_MARGIN)
        self._scale = max(MIN_ZOOM, min(MAX_ZOOM, width / size.width(), height / size.height()))
        self._offset = QPointF(
            (self.width() - size.width() * self._scale) / 2, (self.height() - size.height() * self._scale) / 2
        )
        self._view_changed()

    def actual_size(self) -> None:
        """One picture pixel per screen pixel, around the centre of the view."""
        self.set_zoom(1.0)

    def _pan_by(self, delta: QPointF) -> None:
        self._offset += delta
        self._fitted = False
        self._clamp_offset()
        self._view_changed()

    def _clamp_offset(self) -> None:
        # keep a strip of the picture in view, so a fling never loses it
        if not self._levels:
            return
        keep = 48.0
        size = self.image_size()
        width, height = size.width() * self._scale, size.height() * self._scale
        x = min(max(self._offset.x(), keep - width), self.width() - keep)
        y = min(max(self._offset.y(), keep - height), self.height() - keep)
        self._offset = QPointF(x, y)

    def _view_changed(self) -> None:
        self._update_cursor_shape()
        self.update()
        self.zoomChanged.emit(self._scale)

    def _view_rect(self, rect: QRect) -> QRect:
        """The screen rectangle that shows picture rectangle `rect`, with a pixel to spare."""
        top_left = self.image_to_view(QPointF(rect.topLeft()))
        box = QRectF(top_left, QSize(rect.width(), rect.height()) * self._scale)
        return box.toAlignedRect().adjusted(-2, -2, 2, 2)

    def _outline_rect(self, center: QPointF) -> QRect:
        radius = self._size * self._scale / 2 + 4
        return QRectF(center.x() - radius, center.y() - radius, 2 * radius, 2 * radius).toAlignedRect()

    def _update_hover(self) -> None:
        if self._hover is not None:
            self.update(self._outline_rect(self._hover))

    # -- painting --------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(event.rect(), QColor(theme.CANVAS))
        if not self._levels:
            painter.setPen(QColor(theme.DIM))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No picture to mask.")
            painter.end()
            return
        size = self.image_size()
        area = QRectF(0, 0, size.width(), size.height())
        painter.save()
        painter.setTransform(QTransform(self._scale, 0, 0, self._scale, self._offset.x(), self._offset.y()))
        # nearest neighbour when enlarging, so the artist sees the pixels being masked
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._scale < 1)
        level = self._level_for(self._scale)
        painter.drawImage(area, level, QRectF(level.rect()))
        painter.setOpacity(OVERLAY_OPACITY)
        painter.drawImage(area, self._overlay, area)
        painter.restore()
        frame = QRectF(self.image_to_view(QPointF(0, 0)), area.size() * self._scale)
        painter.setPen(QColor(theme.FRAME))
        painter.drawRect(frame.adjusted(-1, -1, 0, 0))
        if self._hover is not None and self._pan_from is None and not self._space_held:
            self._paint_outline(painter, self._hover + QPointF(0.5, 0.5))  # where a dab would land
        painter.end()

    def _level_for(self, scale: float) -> QImage:
        """The smallest halved copy that still has at least one pixel per screen pixel."""
        full = self._levels[0].width()
        chosen = self._levels[0]
        for level in self._levels[1:]:
            if level.width() / full < scale:
                break
            chosen = level
        return chosen

    def _paint_outline(self, painter: QPainter, center: QPointF) -> None:
        radius = self._size * self._scale / 2
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if radius < 3:  # too small to see as a circle: a cross marks the spot
            painter.setPen(QPen(QColor(255, 255, 255, 220), 1))
            painter.drawLine(center - QPointF(5, 0), center + QPointF(5, 0))
            painter.drawLine(center - QPointF(0, 5), center + QPointF(0, 5))
            return
        # a dark ring under a light one stays visible over any picture
        painter.setPen(QPen(QColor(0, 0, 0, 150), 3))
        painter.drawEllipse(center, radius, radius)
        light = QPen(QColor(255, 255, 255, 230), 1.2)
        if self._tool is MaskTool.ERASER:
            light.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(light)
        painter.drawEllipse(center, radius, radius)

    # -- input -----------------------------------------------------------------------

    def _picture_point(self, event: QMouseEvent) -> QPointF:
        # a mouse position names a screen pixel; its centre is half a pixel further
        return self.view_to_image(event.position() + QPointF(0.5, 0.5))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if not self._levels or self._stroke is not None or self._pan_from is not None:
            super().mousePressEvent(event)
        elif button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self._update_cursor_shape()
            self._update_hover()
        elif button == Qt.MouseButton.LeftButton:
            self._begin_stroke(self._picture_point(event))
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        if self._hover is not None:
            self.update(self._outline_rect(self._hover))
        self._hover = position
        if self._pan_from is not None:
            delta = position - self._pan_from
            self._pan_from = position
            self._pan_by(delta)
        elif self._stroke is not None:
            self._continue_stroke(self._picture_point(event))
        self.update(self._outline_rect(position))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._pan_from is not None and button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._update_cursor_shape()
            self._update_hover()
        elif self._stroke is not None and button == Qt.MouseButton.LeftButton:
            self._continue_stroke(self._picture_point(event))
            self._end_stroke()
        else:
            super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if not self._levels or not notches:
            super().wheelEvent(event)
            return
        self.set_zoom(self._scale * WHEEL_STEP**notches, event.position())

    def event(self, event: QEvent) -> bool:
        # Space pans while held: it must reach keyPressEvent, not a window shortcut
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() == Qt.Key.Key_Space
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            if not event.isAutoRepeat():
                self._space_held = True
                self._update_cursor_shape()
                self._update_hover()
            return
        super().keyPressEvent(event)  # the editor around the canvas handles the other keys

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = False
                self._update_cursor_shape()
                self._update_hover()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self._space_held = False  # its release goes elsewhere: do not stay in pan mode
        self._update_cursor_shape()
        super().focusOutEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._update_hover()
        self._hover = None
        super().leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._fitted:
            self.fit_to_view()
        super().resizeEvent(event)

    def _update_cursor_shape(self) -> None:
        if self._pan_from is not None:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space_held:
            shape = Qt.CursorShape.OpenHandCursor
        elif self._levels and self._size * self._scale >= 6:
            shape = Qt.CursorShape.BlankCursor  # the brush outline is the cursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.setCursor(shape)

    def _require_picture(self) -> None:
        if not self._levels:
            raise RuntimeError("The mask canvas has no picture: call set_image first.")
