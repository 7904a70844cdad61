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
from studio.ui.gallery.model import GalleryModel

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
        x, y = center.x() + radius * math.cos(angle), center.y() + radius * math.sin(angle)
        point = QPointF(x, y)
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
        self.smallest_cell = QSize(TILE.width() + GAP, TILE.height() + GAP)
        self.cell = QSize(self.smallest_cell)  # widened by the grid to fill its width

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        return self.cell

    def tile_rect(self, cell: QRect) -> QRect:
        left = cell.left() + max(GAP // 2, (cell.width() - TILE.width()) // 2)
        return QRect(left, cell.top() + GAP // 2, TILE.width(), TILE.height())

    def star_rect(self, cell: QRect) -> QRect:
        tile = self.tile_rect(cell)
        return QRect(tile.right() - 31, tile.top() + 5, 26, 26)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        tile = QRectF(self.tile_rect(option.rect))
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        clip = QPainterPath()
        clip.addRoundedRect(tile, RADIUS, RADIUS)
        painter.fillPath(clip, QColor(TILE_COLOR))

        model = index.model()
        if not isinstance(model, GalleryModel):
            painter.restore()
            return
        # typed accessors, not index.data(): no QVariant round trip for each tile painted
        row = model.row_at(index.row())
        pixmap = model.thumbnail(index.row())
        if pixmap is not None and not pixmap.isNull():
            size = pixmap.size().scaled(TILE, Qt.AspectRatioMode.KeepAspectRatio)
            x = tile.left() + (tile.width() - size.width()) / 2
            y = tile.top() + (tile.height() - size.height()) / 2
            painter.setClipPath(clip)
            target = QRectF(x, y, size.width(), size.height())
            painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
            painter.setClipping(False)
        elif model.thumbnail_failure(index.row()):
            painter.setPen(QColor(theme.DIM))
            painter.drawText(tile, Qt.AlignmentFlag.AlignCenter, "Cannot show\nthis image")

        if hovered and row is not None:
            self._paint_caption(painter, tile, clip, row.prompt)
        favorite = row is not None and bool(row.favorite)
        if favorite or hovered:
            self._paint_star(painter, QRectF(self.star_rect(option.rect)), favorite)

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

    def editorEvent(
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
            and self.star_rect(option.rect).contains(event.position().toPoint())
        ):
            self.favorite_clicked.emit(self._plain(index))
            return True
        return super().editorEvent(event, model, option, index)

    @staticmethod
    def _plain(index: QModelIndex | QPersistentModelIndex) -> QModelIndex:
        if isinstance(index, QPersistentModelIndex):
            model = index.model()
            return model.index(index.row(), index.column()) if model else QModelIndex()
        return index

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
        prompt: str,
    ) -> None:
        text = " ".join(prompt.split())
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
        align = Qt.AlignmentFlag.AlignBottom | Qt.AlignmentFlag.AlignLeft
        painter.drawText(area, int(align), shown)
