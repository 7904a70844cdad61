"""Paints one gallery tile: the thumbnail, a favorite star, selection and hover.

Everything it paints comes from the model's roles; nothing here reads a file or the database.
"""

from __future__ import annotations

import math

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QIcon,
    QLinearGradient,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from studio.ui import theme
from studio.ui.gallery.model import FAVORITE_ROLE, ROW_ROLE, THUMBNAIL_ERROR_ROLE, THUMBNAIL_ROLE

TILE = QSize(168, 168)  # the thumbnail area
GAP = 8  # between tiles
RADIUS = 8.0
STAR = "#f5c451"
TILE_COLOR = "#1f2126"
HOVER_BORDER = "#454955"


def star_path(center: QPointF, outer: float) -> QPainterPath:
    """A five-pointed star."""
    inner = outer * 0.45
    path = QPainterPath()
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = math.pi / 5 * i - math.pi / 2
        point = QPointF(center.x() + radius * math.cos(angle), center.y() + radius * math.sin(angle))
        if i == 0:
            path.moveTo(point)
        else:
            path.lineTo(point)
    path.closeSubpath()
    return path


def star_icon(color: str = STAR, *, filled: bool = True, size: int = 20) -> QIcon:
    """A star icon for buttons (drawn, so it needs no file)."""
    result = QIcon()
    for mode, tint in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, theme.DISABLED)):
        for px in (size, size * 2):
            pixmap = QPixmap(px, px)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            path = star_path(QPointF(px / 2, px / 2 + px * 0.04), px * 0.42)
            pen = QPen(QColor(tint), max(1.0, px / 12))
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.setBrush(QColor(tint) if filled else Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            painter.end()
            result.addPixmap(pixmap, mode)
    return result


class GalleryDelegate(QStyledItemDelegate):
    """Uniform tiles; the thumbnail is letterboxed on a dark tile, never stretched.

    Signals:
        favorite_clicked(QModelIndex): the star of a tile was clicked.
    """

    favorite_clicked = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cell = QSize(TILE.width() + GAP, TILE.height() + GAP)

    def sizeHint(  # noqa: N802 - Qt override
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return self.cell

    def tile_rect(self, cell: QRect) -> QRect:
        return QRect(cell.left() + GAP // 2, cell.top() + GAP // 2, TILE.width(), TILE.height())

    def star_rect(self, cell: QRect) -> QRect:
        tile = self.tile_rect(cell)
        return QRect(tile.right() - 31, tile.top() + 5, 26, 26)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        tile = QRectF(self.tile_rect(option.rect))  # type: ignore[attr-defined]
        state = option.state  # type: ignore[attr-defined]
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        clip = QPainterPath()
        clip.addRoundedRect(tile, RADIUS, RADIUS)
        painter.fillPath(clip, QColor(TILE_COLOR))

        pixmap = index.data(THUMBNAIL_ROLE)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            size = pixmap.size().scaled(TILE, Qt.AspectRatioMode.KeepAspectRatio)
            x = tile.left() + (tile.width() - size.width()) / 2
            y = tile.top() + (tile.height() - size.height()) / 2
            painter.setClipPath(clip)
            painter.drawPixmap(QRectF(x, y, size.width(), size.height()), pixmap, QRectF(pixmap.rect()))
            painter.setClipping(False)
        elif index.data(THUMBNAIL_ERROR_ROLE):
            painter.setPen(QColor(theme.DIM))
            painter.drawText(tile, Qt.AlignmentFlag.AlignCenter, "Cannot show\nthis image")

        if hovered:
            self._paint_caption(painter, tile, clip, index)
        favorite = bool(index.data(FAVORITE_ROLE))
        if favorite or hovered:
            self._paint_star(painter, QRectF(self.star_rect(option.rect)), favorite)  # type: ignore[attr-defined]

        if selected:
            pen = QPen(QColor(theme.ACCENT), 2.5)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(1, 1, -1, -1), RADIUS - 1, RADIUS - 1)
        elif hovered:
            painter.setPen(QPen(QColor(HOVER_BORDER), 1.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)
        painter.restore()

    def editorEvent(  # noqa: N802 - Qt override
        self,
        event: QEvent,
        model: QAbstractItemModel,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if (
            isinstance(event, QMouseEvent)
            and event.type() == QEvent.Type.MouseButtonRelease
            and event.button() == Qt.MouseButton.LeftButton
            and self.star_rect(option.rect).contains(event.position().toPoint())  # type: ignore[attr-defined]
        ):
            self.favorite_clicked.emit(QModelIndex(index))
            return True
        return super().editorEvent(event, model, option, index)

    def _paint_star(self, painter: QPainter, box: QRectF, favorite: bool) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 120))
        painter.drawEllipse(box)
        path = star_path(box.center() + QPointF(0, 0.6), box.width() * 0.33)
        pen = QPen(QColor(STAR if favorite else "#d9dbe0"), 1.4)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(QColor(STAR) if favorite else Qt.BrushStyle.NoBrush)
        painter.drawPath(path)

    def _paint_caption(
        self,
        painter: QPainter,
        tile: QRectF,
        clip: QPainterPath,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row = index.data(ROW_ROLE)
        text = " ".join(row.prompt.split()) if row is not None else ""
        if not text:
            return
        band = QRectF(tile.left(), tile.bottom() - 46, tile.width(), 46)
        gradient = QLinearGradient(band.topLeft(), band.bottomLeft())
        gradient.setColorAt(0.0, QColor(0, 0, 0, 0))
        gradient.setColorAt(1.0, QColor(0, 0, 0, 200))
        painter.setClipPath(clip)
        painter.fillRect(band, gradient)
        painter.setClipping(False)
        metrics = QFontMetrics(painter.font())
        area = band.adjusted(8, 0, -8, -6)
        shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, int(area.width()))
        painter.setPen(QColor("#f2f3f5"))
        painter.drawText(area, int(Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft), shown)
