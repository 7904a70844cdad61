"""The mask canvas: the picture with its mask over it, zoomed and panned, painted with the pointer.

Only what changed is repainted: a brush segment's rectangle and the outline's old and new places.
The picture is kept in halved copies, so a zoomed-out view draws from one that is about the size
on screen instead of filtering 2048x2048 pixels.
"""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal, Slot
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
from studio.ui.mask_document import MaskDocument, MaskTool
from studio.ui.mask_overlay import overlay_color_for

OVERLAY_OPACITY = 0.55
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch
FIT_MARGIN = 16
MIN_SIZE, MAX_SIZE = 1, 1024
SMALLEST_LEVEL = 256  # the picture is kept halved down to about this size, for clean zoomed-out views


def picture_from_pil(image: Image.Image | QImage) -> QImage:
    """An opaque Format_RGB32 copy of a PIL image or a QImage (the fastest format to draw)."""
    if isinstance(image, QImage):
        return image.convertToFormat(QImage.Format.Format_RGB32)
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    wrapped = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return wrapped.convertToFormat(QImage.Format.Format_RGB32)  # a copy: `data` may go


class MaskCanvas(QWidget):
    """Shows the picture with the mask over it in a translucent colour; `document` holds the mask.

    Left button paints with the current tool; the middle button, or Space held with the left
    button, pans; the wheel zooms around the cursor. Each stroke is one undo step.

    Signals:
        toolChanged(str): the tool ("brush" or "eraser").
        brushSizeChanged(int): the brush diameter, in picture pixels.
        zoomChanged(float): screen pixels per picture pixel.
    """

    toolChanged = Signal(str)
    brushSizeChanged = Signal(int)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MaskCanvas")
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 200)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)  # the brush outline follows the cursor without a button held
        self.document = MaskDocument(self)
        self.document.regionChanged.connect(self._on_region_changed)
        self._levels: list[QImage] = []  # the picture, then halved copies
        self._tool = MaskTool.BRUSH
        self._size = 40
        self._scale = 1.0
        self._offset = QPointF(0, 0)
        self._fitted = True  # follow the widget's size until the artist zooms or pans
        self._pan_from: QPointF | None = None
        self._space_held = False
        self._hover: QPointF | None = None
        self._update_cursor_shape()

    # -- content ---------------------------------------------------------------------

    def set_image(self, image: Image.Image | QImage) -> None:
        """Show `image` with an empty mask of its size; the undo history starts again."""
        picture = picture_from_pil(image)
        if picture.isNull():
            raise ValueError("The picture is empty.")
        self._pan_from = None
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
        self.fit_to_view()
        self.document.reset(picture.size())
        self.document.overlay.set_color(overlay_color_for(levels[-1]))
        self.update()

    def has_image(self) -> bool:
        return bool(self._levels)

    def image_size(self) -> QSize:
        return self._levels[0].size() if self._levels else QSize()

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

    @Slot(QRect)
    def _on_region_changed(self, rect: QRect) -> None:
        self.update(self._view_rect(rect))

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
        shown = QRectF(self.view_to_image(QPointF(0, 0)), QSize(self.width(), self.height()) / self._scale)
        self.document.overlay.set_visible(shown.toAlignedRect())
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
        # nearest neighbour when enlarging, so the artist sees the pixels being masked; the
        # copy is chosen for device pixels (twice as many on a 200% screen), so it stays sharp
        device_scale = self._scale * painter.device().devicePixelRatioF()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, device_scale < 1)
        level = self._level_for(device_scale)
        painter.drawImage(area, level, QRectF(level.rect()))
        painter.setOpacity(OVERLAY_OPACITY)
        painter.drawImage(area, self.document.overlay.image(), area)
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
        if not self._levels or self.document.stroking() or self._pan_from is not None:
            super().mousePressEvent(event)
        elif button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self._update_cursor_shape()
            self._update_hover()
        elif button == Qt.MouseButton.LeftButton:
            self.document.begin_stroke(self._picture_point(event), self._tool, self._size)
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
        elif self.document.stroking():
            if event.buttons() & Qt.MouseButton.LeftButton:
                self.document.extend_stroke(self._picture_point(event))
            else:  # the release went elsewhere (a grab taken away): the stroke is over
                self.document.end_stroke()
        self.update(self._outline_rect(position))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._pan_from is not None and button in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._update_cursor_shape()
            self._update_hover()
        elif self.document.stroking() and button == Qt.MouseButton.LeftButton:
            self.document.extend_stroke(self._picture_point(event))
            self.document.end_stroke()
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
