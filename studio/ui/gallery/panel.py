"""The gallery page: a search bar over a grid of every image, and the viewer for one of them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication, QImage, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.library.atomic import SaveError
from studio.library.curation import CurationError
from studio.library.gallery import Gallery
from studio.library.index import GalleryRow, Order
from studio.library.metadata import ImageMetadata, UnreadableImage, read_metadata
from studio.ui.gallery.background import BackgroundTask
from studio.ui.gallery.delegate import TILE, GalleryDelegate, star_icon
from studio.ui.gallery.loader import ThumbnailLoader
from studio.ui.gallery.model import GalleryModel
from studio.ui.gallery.reuse import (
    ParameterControls,
    ReuseDialog,
    ReuseMode,
    offer_reuse,
    reuse_problem,
)
from studio.ui.gallery.text import parameters_text
from studio.ui.gallery.viewer import ImageViewer
from studio.ui.theme import DIM
from studio.ui.widgets import plain_label

SEARCH_DELAY_MS = 150
ORDERS: tuple[tuple[str, Order], ...] = (("Newest first", "desc"), ("Oldest first", "asc"))


class GalleryPanel(QWidget):
    """Every image in the gallery, searchable, and a viewer that acts on one.

    Signals:
        message(str): a short line for the status bar.
        image_opened(str): the viewer now shows this path.
        rows_shown(int): the grid was filled with this many images.
    """

    message = Signal(str)
    image_opened = Signal(str)
    rows_shown = Signal(int)

    def __init__(
        self,
        gallery: Gallery,
        controls: ParameterControls | None = None,
        *,
        threads: int = 2,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("GalleryPanel")
        self.gallery = gallery
        self.controls = controls
        self.reuse_dialog: ReuseDialog | None = None
        self._total = 0
        self._closed = False
        self.loader = ThumbnailLoader(gallery.thumbnails, TILE, threads=threads, parent=self)
        self.model = GalleryModel(self.loader, self)
        self._background = BackgroundTask(self)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._build()
        self._connect()
        self.refresh()

    # -- building ----------------------------------------------------------------------

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
        self.count_label = plain_label("", "GalleryCount")
        bar = QHBoxLayout()
        bar.setContentsMargins(14, 12, 14, 8)
        bar.setSpacing(8)
        bar.addWidget(self.search_box, 1)
        bar.addWidget(self.favorites_button)
        bar.addWidget(self.sort_box)
        bar.addSpacing(6)
        bar.addWidget(self.count_label)

        self.view = QListView()
        self.view.setObjectName("GalleryGrid")
        self.delegate = GalleryDelegate(self.view)
        self.view.setModel(self.model)
        self.view.setItemDelegate(self.delegate)
        self.view.setViewMode(QListView.ViewMode.ListMode)
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(True)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.verticalScrollBar().setSingleStep(48)
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setMouseTracking(True)
        self.view.setFrameShape(QListView.Shape.NoFrame)
        self.view.setContentsMargins(0, 0, 0, 0)
        self.view.setViewportMargins(10, 0, 4, 10)
        self.empty_label = plain_label("", "GalleryEmpty", wrap=True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.hide()

        grid_page = QWidget()
        grid_page.setObjectName("GalleryGridPage")
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(0, 0, 0, 0)
        grid_layout.setSpacing(0)
        grid_layout.addLayout(bar)
        grid_layout.addWidget(self.view, 1)
        grid_layout.addWidget(self.empty_label, 1)

        self.viewer = ImageViewer()
        self.pages = QStackedWidget()
        self.pages.addWidget(grid_page)
        self.pages.addWidget(self.viewer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.pages)
        self.setStyleSheet(GALLERY_STYLE)

    def _connect(self) -> None:
        self.search_box.textChanged.connect(self._search_timer.start)
        self.search_box.returnPressed.connect(self._on_search_now)
        self._search_timer.timeout.connect(self.refresh)
        self.favorites_button.toggled.connect(self.refresh)
        self.sort_box.currentIndexChanged.connect(self.refresh)
        self.view.activated.connect(self._on_activated)
        self.view.installEventFilter(self)
        self.delegate.favorite_clicked.connect(self._on_star_clicked)
        self.loader.image_ready.connect(self._on_full_image)
        self.loader.image_failed.connect(self._on_full_image_failed)
        self._background.finished.connect(self._on_reconciled)
        v = self.viewer
        v.back_requested.connect(self.show_grid)
        v.step_requested.connect(self._on_step)
        v.reuse_all_requested.connect(lambda: self.reuse(ReuseMode.ALL))
        v.reuse_prompt_requested.connect(lambda: self.reuse(ReuseMode.PROMPT))
        v.reuse_seed_requested.connect(lambda: self.reuse(ReuseMode.SEED))
        v.copy_requested.connect(self.copy_parameters)
        v.folder_requested.connect(self.open_folder)
        v.favorite_requested.connect(self.toggle_favorite)
        v.delete_requested.connect(self.delete_current)

    # -- filling the grid --------------------------------------------------------------

    @property
    def order(self) -> Order:
        return ORDERS[max(0, self.sort_box.currentIndex())][1]

    def filtered(self) -> bool:
        return bool(self.search_box.text().strip()) or self.favorites_button.isChecked()

    @Slot()
    def refresh(self) -> None:
        """Query the index once for everything the grid shows (no queries per item)."""
        self._search_timer.stop()
        current = self.current_path()
        search = self.search_box.text().strip() or None
        rows = self.gallery.index.rows(
            order=self.order, favorites_only=self.favorites_button.isChecked(), search=search
        )
        self._total = self.gallery.index.count() if self.filtered() else len(rows)
        self.model.set_rows(rows, self.order)
        if current is not None and (at := self.model.position(current)) >= 0:
            self.view.setCurrentIndex(self.model.index(at))
            self.view.scrollTo(self.model.index(at))
        self._update_count()
        self.rows_shown.emit(len(rows))

    def _update_count(self) -> None:
        shown = self.model.rowCount()
        noun = "image" if self._total == 1 else "images"
        if self.filtered():
            self.count_label.setText(f"{shown:,} of {self._total:,} {noun}")
        else:
            self.count_label.setText(f"{shown:,} {noun}")
        if shown:
            self.empty_label.hide()
            self.view.show()
            return
        if self.filtered():
            text = "No image matches."
            if self.search_box.text().strip():
                text = f"No image matches “{self.search_box.text().strip()}”."
            if self.favorites_button.isChecked():
                text += "\nStar an image (F) to make it a favorite."
        else:
            text = f"No images yet.\nImages you generate are saved to\n{self.gallery.folder}"
        self.empty_label.setText(text)
        self.view.hide()
        self.empty_label.show()

    @Slot(str)
    def add_saved(self, path: str) -> None:
        """A file was just saved: index it and show it (connect the window's image_saved)."""
        try:
            row = self.gallery.index.add(Path(path))
        except (UnreadableImage, OSError) as exc:
            self.message.emit(f"The saved image could not be added to the gallery: {exc}")
            return
        self.loader.forget(str(row.path))
        if self.filtered():
            self.refresh()
            return
        self._total += self.model.position(row.path) < 0
        self.model.insert_row(row)
        self._update_count()

    def reconcile(self) -> None:
        """Bring the index in line with the folder off the GUI thread, then refresh."""
        self._background.run(self.gallery.index.reconcile)

    @Slot(object, str)
    def _on_reconciled(self, report: object, error: str) -> None:
        if error:
            self.message.emit(f"The gallery could not be checked against its folder: {error}")
            return
        added, removed = getattr(report, "added", 0), getattr(report, "removed", 0)
        if added or removed or getattr(report, "updated", 0):
            self.refresh()
        if added or removed:
            self.message.emit(f"Gallery: {added} new, {removed} gone since last time.")

    # -- current image -----------------------------------------------------------------

    def current_path(self) -> Path | None:
        if self.pages.currentWidget() is self.viewer and self.viewer.path is not None:
            return self.viewer.path
        row = self.model.row_at(self.view.currentIndex().row())
        return row.path if row is not None else None

    def current_row(self) -> GalleryRow | None:
        path = self.current_path()
        if path is None:
            return None
        return self.model.row_at(self.model.position(path))

    def viewing(self) -> bool:
        return self.pages.currentWidget() is self.viewer

    def open_position(self, position: int) -> None:
        """Show the image at `position` of the grid in the viewer."""
        row = self.model.row_at(position)
        if row is None:
            return
        meta: ImageMetadata | None
        problem = ""
        try:
            meta = read_metadata(row.path)
        except UnreadableImage as exc:
            meta, problem = None, str(exc)
        key = str(row.path)
        self.viewer.show_image(
            row.path,
            meta,
            self.loader.pixmap(key),
            favorite=row.favorite,
            position=(position, self.model.rowCount()),
            problem=problem,
        )
        self.loader.load_image(key)
        self.view.setCurrentIndex(self.model.index(position))
        self.pages.setCurrentWidget(self.viewer)
        self.viewer.setFocus()
        self.image_opened.emit(key)

    @Slot()
    def show_grid(self) -> None:
        self.pages.setCurrentIndex(0)
        index = self.view.currentIndex()
        if index.isValid():
            self.view.scrollTo(index)
        self.view.setFocus()

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        self.open_position(index.row())

    @Slot(int)
    def _on_step(self, delta: int) -> None:
        path = self.viewer.path
        at = self.model.position(path) if path is not None else -1
        target = at + delta
        if at >= 0 and 0 <= target < self.model.rowCount():
            self.open_position(target)

    @Slot(str, QImage)
    def _on_full_image(self, path: str, image: QImage) -> None:
        self.viewer.set_full_image(Path(path), image)

    @Slot(str, str)
    def _on_full_image_failed(self, path: str, reason: str) -> None:
        if self.viewer.path is not None and Path(path) == self.viewer.path:
            self.viewer.set_status(reason)

    # -- actions -----------------------------------------------------------------------

    @Slot()
    def toggle_favorite(self) -> None:
        row = self.current_row()
        if row is not None:
            self._set_favorite(row, not row.favorite)

    @Slot(QModelIndex)
    def _on_star_clicked(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self._set_favorite(row, not row.favorite)

    def _set_favorite(self, row: GalleryRow, favorite: bool) -> None:
        try:
            self.gallery.index.set_favorite(row.path, favorite)
        except (CurationError, SaveError, OSError) as exc:
            self._tell(f"Could not change the favorite: {exc}")
            return
        updated = self.gallery.index.get(row.path) or row._replace(favorite=favorite)
        if self.favorites_button.isChecked() and not favorite and not self.viewing():
            self.model.remove_path(row.path)
            self._update_count()
        else:
            self.model.replace_row(updated)
        if self.viewer.path == row.path:
            self.viewer.set_favorite(favorite)
        self.message.emit("Added to favorites." if favorite else "Removed from favorites.")

    @Slot()
    def delete_current(self) -> None:
        """Send the current image to the system trash and drop it from the index."""
        row = self.current_row()
        if row is None:
            return
        at = self.model.position(row.path)
        try:
            self.gallery.index.delete(row.path)
        except (SaveError, OSError) as exc:
            self._tell(str(exc))
            return
        self.loader.forget(str(row.path))
        self.model.remove_path(row.path)
        self._total = max(0, self._total - 1)
        self._update_count()
        self.message.emit(f"Moved {row.path.name} to the trash.")
        remaining = self.model.rowCount()
        if not remaining:
            self.viewer.path = None
            self.show_grid()
            return
        next_at = min(at, remaining - 1)
        if self.viewing():
            self.open_position(next_at)
        else:
            self.view.setCurrentIndex(self.model.index(next_at))

    @Slot()
    def copy_parameters(self) -> None:
        path = self.current_path()
        if path is None:
            return
        text = parameters_text(path, self.viewer.meta if self.viewer.path == path else None)
        QGuiApplication.clipboard().setText(text)
        self.message.emit("Parameters copied.")

    @Slot()
    def open_folder(self) -> None:
        path = self.current_path()
        if path is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))):
            self._tell(f"Could not open {path.parent}.")

    def reuse(self, mode: ReuseMode) -> ReuseDialog | None:
        """Offer to put the current image's parameters into the controls, showing the diff."""
        path = self.viewer.path if self.viewing() else self.current_path()
        if path is None:
            return None
        if self.controls is None:
            self._tell("There are no parameter controls to reuse into.")
            return None
        meta = self.viewer.meta if self.viewer.path == path else None
        if meta is None:
            try:
                meta = read_metadata(path)
            except UnreadableImage as exc:
                self._tell(str(exc))
                return None
        dialog = offer_reuse(self.controls, meta, mode, self)
        if dialog is None:
            self._tell(reuse_problem(meta, mode))
            return None
        dialog.accepted.connect(lambda: self.message.emit(f"Reused {mode.value}."))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._forget_dialog)
        self.reuse_dialog = dialog
        dialog.open()
        return dialog

    @Slot()
    def _forget_dialog(self) -> None:
        self.reuse_dialog = None

    def _tell(self, text: str) -> None:
        if self.viewing():
            self.viewer.set_status(text)
        self.message.emit(text)

    @Slot()
    def _on_search_now(self) -> None:
        self.refresh()

    # -- keys and life cycle -----------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.view and isinstance(event, QKeyEvent):
            plain = not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            keys = (Qt.Key.Key_Delete, Qt.Key.Key_F)
            if plain and event.key() in keys:
                if event.type() == QEvent.Type.ShortcutOverride:
                    event.accept()
                    return True
                if event.type() == QEvent.Type.KeyPress:
                    if event.key() == Qt.Key.Key_F:
                        self.toggle_favorite()
                    else:
                        self.delete_current()
                    return True
        return super().eventFilter(watched, event)

    def shutdown(self) -> None:
        """Stop the thumbnail threads; call before the gallery closes. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self.loader.shutdown()
            self._background.wait()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(1000, 720)


GALLERY_STYLE = f"""
#GalleryPanel, #GalleryGridPage, #GalleryViewer {{ background: #111215; }}
#GalleryGrid {{ background: #111215; border: none; }}
QLabel#GalleryCount {{ color: {DIM}; background: transparent; padding: 0 2px; }}
QLabel#GalleryEmpty {{ color: {DIM}; background: #111215; font-size: 14px; }}
QLineEdit#GallerySearch {{ padding: 6px 10px; border-radius: 8px; }}
QToolButton#FavoritesFilter {{ padding: 5px 10px; }}
#ViewerSide, #ViewerSideScroll {{ background: #1c1d22; border: none; }}
#ViewerSide QLabel {{ background: transparent; }}
QLabel#MetaPrompt {{ color: #f2f3f5; font-size: 14px; }}
QLabel#MetaNotes {{ color: #f0a35e; }}
QLabel#ViewerTitle {{ color: {DIM}; background: transparent; }}
QToolButton#BackButton {{ padding: 5px 12px; }}
QToolButton#StepButton {{ padding: 3px 10px; font-size: 16px; }}
QPushButton#ReuseAllButton {{
    background: #6d5fe0; border: 1px solid #7c6cf2; color: #ffffff; font-weight: 600;
}}
QPushButton#ReuseAllButton:hover {{ background: #7c6cf2; }}
QPushButton#ReuseAllButton:disabled {{ background: #2a2c33; border-color: #33363f; color: #5d626d; }}
QToolButton#DeleteButton:hover {{ background: #4a2a30; border-color: #7a3a44; }}
"""
