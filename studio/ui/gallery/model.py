"""The gallery's rows as a Qt list model: one bulk query, then no database access per item."""

from __future__ import annotations

import itertools
from bisect import bisect_left
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Slot,
)
from PySide6.QtGui import QPixmap

from studio.library.index import GalleryRow, Order
from studio.ui.gallery.loader import ThumbnailLoader
from studio.ui.widgets import plain_tooltip

ROW_ROLE = Qt.ItemDataRole.UserRole + 1  # the GalleryRow
PATH_ROLE = Qt.ItemDataRole.UserRole + 2  # str path
FAVORITE_ROLE = Qt.ItemDataRole.UserRole + 3  # bool
THUMBNAIL_ROLE = Qt.ItemDataRole.UserRole + 4  # QPixmap, or None while it loads
THUMBNAIL_ERROR_ROLE = Qt.ItemDataRole.UserRole + 5  # str reason, or None

AnyIndex = QModelIndex | QPersistentModelIndex
FRAME_MS = 16  # thumbnails that arrive within one frame are painted together


def describe_row(row: GalleryRow) -> str:
    """A short plain-text summary for tooltips."""
    prompt = " ".join(row.prompt.split()) or "(no prompt)"
    if len(prompt) > 300:
        prompt = prompt[:299] + "…"
    parts = []
    if row.width and row.height:
        parts.append(f"{row.width}×{row.height}")
    if row.steps:
        parts.append(f"{row.steps} steps")
    if row.seed is not None:
        parts.append(f"seed {row.seed}")
    if row.source and row.source != "Studio":
        parts.append(row.source)
    return f"{prompt}\n{' · '.join(parts)}\n{row.path.name}"


class GalleryModel(QAbstractListModel):
    """Gallery rows in the order asked for; thumbnails come from a ThumbnailLoader."""

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loader = loader
        self._rows: list[GalleryRow] = []
        self._positions: dict[str, int] | None = {}
        self.order: Order = "desc"
        self._arrived: set[int] = set()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FRAME_MS)
        self._flush_timer.timeout.connect(self._flush_thumbnails)
        loader.thumbnail_ready.connect(self._on_thumbnail)
        loader.thumbnail_failed.connect(self._on_thumbnail_failed)

    # -- Qt model API ------------------------------------------------------------------

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == THUMBNAIL_ROLE:
            return self._loader.pixmap(row.file)
        if role == ROW_ROLE:
            return row
        if role == PATH_ROLE:
            return row.file
        if role == FAVORITE_ROLE:
            return bool(row.favorite)
        if role == THUMBNAIL_ERROR_ROLE:
            return self._loader.failure(row.file)
        if role == Qt.ItemDataRole.ToolTipRole:
            return plain_tooltip(describe_row(row))
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return row.prompt or row.path.name
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # -- content -----------------------------------------------------------------------

    def set_rows(self, rows: list[GalleryRow], order: Order) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.order = order
        self._positions = None
        self._arrived.clear()
        self.endResetModel()

    def row_at(self, position: int) -> GalleryRow | None:
        return self._rows[position] if 0 <= position < len(self._rows) else None

    def thumbnail(self, position: int) -> QPixmap | None:
        """The row's thumbnail, or None while it loads (asking for it, most recent first)."""
        row = self.row_at(position)
        return None if row is None else self._loader.pixmap(row.file)

    def thumbnail_failure(self, position: int) -> str | None:
        row = self.row_at(position)
        return None if row is None else self._loader.failure(row.file)

    def position(self, path: str | Path) -> int:
        """Where a path is shown, or -1."""
        if self._positions is None:
            self._positions = {row.file: i for i, row in enumerate(self._rows)}
        return self._positions.get(str(path), -1)

    def insert_row(self, row: GalleryRow) -> int:
        """Insert (or replace) one row where its date puts it; returns its position."""
        existing = self.position(row.path)
        if existing >= 0:
            self.replace_row(row)
            return existing
        keys = [-r.created if self.order == "desc" else r.created for r in self._rows]
        key = -row.created if self.order == "desc" else row.created
        at = bisect_left(keys, key) if self._sorted(keys) else 0
        self.beginInsertRows(QModelIndex(), at, at)
        self._rows.insert(at, row)
        self._positions = None
        self._arrived.clear()
        self.endInsertRows()
        return at

    def replace_row(self, row: GalleryRow) -> None:
        at = self.position(row.path)
        if at >= 0:
            self._rows[at] = row
            index = self.index(at)
            self.dataChanged.emit(index, index)

    def remove_path(self, path: str | Path) -> int:
        """Remove a path's row; returns where it was, or -1."""
        at = self.position(path)
        if at >= 0:
            self.beginRemoveRows(QModelIndex(), at, at)
            del self._rows[at]
            self._positions = None
            self._arrived.clear()
            self.endRemoveRows()
        return at

    @staticmethod
    def _sorted(keys: list[float]) -> bool:
        return all(a <= b for a, b in itertools.pairwise(keys))

    @Slot(str)
    def _on_thumbnail(self, path: str) -> None:
        at = self.position(path)
        if at >= 0:
            self._arrived.add(at)
            if not self._flush_timer.isActive():
                self._flush_timer.start()

    @Slot()
    def _flush_thumbnails(self) -> None:
        """One repaint for every thumbnail that arrived in the last frame, not one each."""
        if not self._arrived:
            return
        first, last = min(self._arrived), max(self._arrived)
        self._arrived.clear()
        if last < len(self._rows):
            self.dataChanged.emit(self.index(first), self.index(last), [THUMBNAIL_ROLE])

    @Slot(str, str)
    def _on_thumbnail_failed(self, path: str, _reason: str) -> None:
        self._on_thumbnail(path)
