"""The grid page: search, favorites filter and sort over a uniform grid of thumbnails."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.library.gallery import Gallery
from studio.library.index import GalleryRow, Order
from studio.ui.gallery.delegate import GalleryDelegate, star_icon
from studio.ui.gallery.model import GalleryModel
from studio.ui.widgets import plain_label

SEARCH_DELAY_MS = 150
ORDERS: tuple[tuple[str, Order], ...] = (("Newest first", "desc"), ("Oldest first", "asc"))
BAR_SPACING = 8
SEARCH_ROOM_CHARS = 28  # the search box keeps room for this many characters before the bar wraps
GRID_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_F)


class GalleryGrid(QWidget):
    """The images the filters let through, from one index query per change.

    Signals:
        rows_shown(int): the grid was filled with this many images.
        favorite_key(): F was pressed on the grid.
        delete_key(): Delete was pressed on the grid.
        compare_chosen(Path, Path): two selected images are to be compared, older first.
    """

    rows_shown = Signal(int)
    favorite_key = Signal()
    delete_key = Signal()
    compare_chosen = Signal(Path, Path)

    def __init__(
        self, gallery: Gallery, model: GalleryModel, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("GalleryGridPage")
        self.gallery = gallery
        self.model = model
        self.total = 0
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._build()
        self.search_box.textChanged.connect(self._search_timer.start)
        self.search_box.returnPressed.connect(self.refresh)
        self._search_timer.timeout.connect(self.refresh)
        self.favorites_button.toggled.connect(self.refresh)
        self.sort_box.currentIndexChanged.connect(self.refresh)
        self.view.installEventFilter(self)
        self.view.viewport().installEventFilter(self)
        self.view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.model.modelReset.connect(self._on_selection_changed)

    def _build(self) -> None:
        self.search_box = QLineEdit()
        self.search_box.setObjectName("GallerySearch")
        self.search_box.setPlaceholderText("Search prompts…")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setToolTip("Words of the prompt; the start of a word is enough")
        self.favorites_button = QToolButton()
        self.favorites_button.setObjectName("FavoritesFilter")
        self.favorites_button.setCheckable(True)
        self.favorites_button.setIcon(star_icon())
        self.favorites_button.setText(" Favorites")
        self.favorites_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.favorites_button.setToolTip("Show favorites only")
        self.sort_box = QComboBox()
        self.sort_box.setObjectName("GallerySort")
        for text, _ in ORDERS:
            self.sort_box.addItem(text)
        self.compare_button = QToolButton()
        self.compare_button.setObjectName("CompareSelected")
        self.compare_button.setText("Compare")
        self.compare_button.setToolTip("Before and after between the two selected images "
                                       "(Ctrl+click or Shift+click to select two)")
        self.compare_button.setEnabled(False)
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.count_label = plain_label("", "GalleryCount")
        # one row when the page is wide; on a narrow page the search box takes a row of its own
        # rather than being squeezed to a sliver beside the filters
        bar = QVBoxLayout()
        bar.setContentsMargins(14, 12, 14, 8)
        bar.setSpacing(BAR_SPACING)
        self._search_row = QHBoxLayout()
        self._search_row.setSpacing(BAR_SPACING)
        self._filter_row = QHBoxLayout()
        self._filter_row.setSpacing(BAR_SPACING)
        bar.addLayout(self._search_row)
        bar.addLayout(self._filter_row)
        self._bar = bar
        self._one_row: bool | None = None
        self._arrange_bar(True)

        self.view = QListView()
        self.view.setObjectName("GalleryGrid")
        self.delegate = GalleryDelegate(self.view)
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        # list mode, wrapping left to right: a grid that lays out uniform items cheaply
        self.view.setViewMode(QListView.ViewMode.ListMode)
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(True)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(2000)
        self.view.setMovement(QListView.Movement.Static)
        # Ctrl/Shift+click picks a second image to compare with; the current one is still what
        # Enter opens, F stars and Delete trashes
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.verticalScrollBar().setSingleStep(48)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setMouseTracking(True)
        self.view.setFrameShape(QListView.Shape.NoFrame)
        self.view.setViewportMargins(10, 0, 4, 10)
        self.empty_label = plain_label("", "GalleryEmpty", wrap=True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.empty_label, 1)

    # -- filters -----------------------------------------------------------------------

    @property
    def order(self) -> Order:
        return ORDERS[max(0, self.sort_box.currentIndex())][1]

    def search_text(self) -> str:
        return self.search_box.text().strip()

    def filtered(self) -> bool:
        return bool(self.search_text()) or self.favorites_button.isChecked()

    @Slot()
    def refresh(self) -> None:
        """Query the index once for everything the grid shows (no queries per item)."""
        self._search_timer.stop()
        current = self.current_path()
        rows = self.gallery.index.rows(
            order=self.order,
            favorites_only=self.favorites_button.isChecked(),
            search=self.search_text() or None,
        )
        self.total = self.gallery.index.count() if self.filtered() else len(rows)
        self.model.set_rows(rows, self.order)
        if current is not None and (at := self.model.position(current)) >= 0:
            self.select(at)
        self.update_count()
        self.rows_shown.emit(len(rows))

    def update_count(self) -> None:
        shown = self.model.rowCount()
        noun = "image" if self.total == 1 else "images"
        if self.filtered():
            self.count_label.setText(f"{shown:,} of {self.total:,} {noun}")
        else:
            self.count_label.setText(f"{shown:,} {noun}")
        self._arrange_bar(self._fits_one_row())  # a longer count may not fit beside the search
        self.view.setVisible(bool(shown))
        self.empty_label.setVisible(not shown)
        if shown:
            return
        if self.search_text():
            text = f"No image matches “{self.search_text()}”."
        elif self.favorites_button.isChecked():
            text = "No favorites yet.\nStar an image (F) to make it a favorite."
        else:
            text = f"No images yet.\nImages you generate are saved to\n{self.gallery.folder}"
        self.empty_label.setText(text)

    def show_row(self, row: GalleryRow) -> None:
        """Show a newly indexed image where its date puts it (or re-filter when filtered)."""
        if self.filtered():
            self.refresh()
            return
        self.total += self.model.position(row.path) < 0
        self.model.insert_row(row)
        self.update_count()

    def drop_row(self, path: Path) -> int:
        at = self.model.remove_path(path)
        if at >= 0:
            self.total = max(0, self.total - 1)
            self.update_count()
        return at

    # -- selection ---------------------------------------------------------------------

    def current_path(self) -> Path | None:
        row = self.model.row_at(self.view.currentIndex().row())
        return row.path if row is not None else None

    def select(self, position: int) -> None:
        index = self.model.index(position)
        self.view.setCurrentIndex(index)
        self.view.scrollTo(index)

    def selected_paths(self) -> list[Path]:
        """The selected images, in the grid's order."""
        positions = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        rows = (self.model.row_at(p) for p in positions)
        return [row.path for row in rows if row is not None]

    @Slot()
    def _on_selection_changed(self) -> None:
        self.compare_button.setEnabled(len(self.selected_paths()) == 2)

    @Slot()
    def _on_compare_clicked(self) -> None:
        paths = self.selected_paths()
        if len(paths) != 2:
            return
        first, second = paths
        # the older picture is "before": newest-first order lists it second
        self.compare_chosen.emit(*((second, first) if self.order == "desc" else (first, second)))

    def _fit_columns(self) -> None:
        """Spread the columns over the whole width, so the grid has no ragged right edge."""
        smallest = self.delegate.smallest_cell
        available = self.view.viewport().width()
        columns = max(1, available // smallest.width())
        # one pixel of slack per column: the view wraps a row that would touch the edge
        width = max(smallest.width(), available // columns - 1)
        if self.delegate.cell.width() != width:
            self.delegate.cell = QSize(width, smallest.height())
            if self.model.rowCount():
                self.delegate.sizeHintChanged.emit(self.model.index(0))

    # -- the bar ---------------------------------------------------------------------------

    def _bar_controls(self) -> list[QWidget]:
        return [self.favorites_button, self.sort_box, self.compare_button, self.count_label]

    def _fits_one_row(self) -> bool:
        """Whether the search box keeps SEARCH_ROOM_CHARS of room beside the other controls."""
        margins = self._bar.contentsMargins()
        controls = self._bar_controls()
        beside = sum(w.sizeHint().width() for w in controls) + BAR_SPACING * (len(controls) + 1)
        room = self.search_box.fontMetrics().averageCharWidth() * SEARCH_ROOM_CHARS
        return self.width() >= margins.left() + margins.right() + beside + room

    def _arrange_bar(self, one_row: bool) -> None:
        if one_row == self._one_row:
            return
        self._one_row = one_row
        for widget in [self.search_box, *self._bar_controls()]:
            self._search_row.removeWidget(widget)
            self._filter_row.removeWidget(widget)
        while self._filter_row.count():  # the stretch of the two-row bar
            self._filter_row.takeAt(0)
        self._search_row.addWidget(self.search_box, 1)
        row = self._search_row if one_row else self._filter_row
        for widget in self._bar_controls():
            row.addWidget(widget)
        if not one_row:  # the count stays at the right edge, below the search box's end
            self._filter_row.insertStretch(self._filter_row.count() - 1, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange_bar(self._fits_one_row())
        super().resizeEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        if watched is self.view and isinstance(event, QKeyEvent):
            plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if plain and event.key() in GRID_KEYS:
                if event.type() == QEvent.Type.ShortcutOverride:
                    event.accept()
                    return True
                if event.type() == QEvent.Type.KeyPress:
                    if event.key() == Qt.Key.Key_F:
                        self.favorite_key.emit()
                    else:
                        self.delete_key.emit()
                    return True
        return super().eventFilter(watched, event)
