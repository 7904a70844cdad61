"""The gallery page: the grid of every image, and the viewer that acts on one of them."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QModelIndex, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication, QImage
from PySide6.QtWidgets import QLayout, QStackedWidget, QVBoxLayout, QWidget

from studio.library.film import FilmError
from studio.library.gallery import PRIVATE_DIR, Gallery
from studio.library.index import GalleryRow, OutsideGallery
from studio.library.lineage import with_restored_mask
from studio.library.metadata import ImageMetadata, UnreadableImage, read_metadata
from studio.ui.gallery.background import UNEXPECTED, BackgroundTask
from studio.ui.gallery.curator import Curator, NotStored, NotTrashed, Outcome, Stored, Trashed
from studio.ui.gallery.delegate import TILE
from studio.ui.gallery.drop import ImageDropLoader
from studio.ui.gallery.film import ViewerTimeline
from studio.ui.gallery.grid import GalleryGrid
from studio.ui.gallery.loader import ThumbnailLoader
from studio.ui.gallery.model import GalleryModel
from studio.ui.gallery.reuse import (
    ParameterControls,
    ReuseDialog,
    ReuseMode,
    offer_reuse,
    reuse_problem,
    reused_request,
)
from studio.ui.gallery.style import GALLERY_STYLE
from studio.ui.gallery.text import parameters_text
from studio.ui.gallery.viewer import ImageViewer

TimelineProvider = Callable[[Path], "QWidget | None"]
log = logging.getLogger(__name__)


class GalleryPanel(QWidget):
    """Every image in the gallery, searchable, and a viewer that acts on one.

    Signals:
        message(str): a short line for the status bar.
        image_opened(str): the viewer now shows this path.
        noise_requested(str, float): show this image noised to this fraction of the model's
            schedule (only with `noise_enabled`); answer with `show_noised`.
        start_image_chosen(str): the person wants to start the next run from this image.
        variations_chosen(object): run variations of this GenerationRequest (an image's own).
        upscale_chosen(str): the person wants a larger copy of this image.
    """

    message = Signal(str)
    image_opened = Signal(str)
    noise_requested = Signal(str, float)
    start_image_chosen = Signal(str)
    variations_chosen = Signal(object)
    upscale_chosen = Signal(str)

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
        self.compare_dialog: object = None
        # makes the viewer's timeline for an image (its denoising film), or None without one
        self.timeline_provider: TimelineProvider | None = self._film_timeline
        # the forward-noise slider needs something that answers noise_requested
        self.noise_enabled = False
        self._timeline: ViewerTimeline | None = None
        self.drop_loader: ImageDropLoader | None = None  # where the window takes image drops
        self._closed = False
        self.loader = ThumbnailLoader(gallery.thumbnails, TILE, threads=threads,
                                      pixel_ratio=self.devicePixelRatioF(), parent=self)
        self.model = GalleryModel(self.loader, self)
        self._background = BackgroundTask(self)
        self.curator = Curator(gallery.index, self)
        self.grid = GalleryGrid(gallery, self.model)
        self.view = self.grid.view
        self.viewer = ImageViewer()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.grid)
        self.pages.addWidget(self.viewer)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # the panel never imposes a minimum size on the window that holds it
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addWidget(self.pages)
        self.setStyleSheet(GALLERY_STYLE)
        self._connect()
        self.grid.refresh()

    def _connect(self) -> None:
        g, v = self.grid, self.viewer
        g.view.activated.connect(self._on_activated)
        g.view.verticalScrollBar().valueChanged.connect(self._on_scrolled)
        g.delegate.favorite_clicked.connect(self._on_star_clicked)
        g.favorite_key.connect(self.toggle_favorite)
        g.delete_key.connect(self.delete_current)
        g.compare_chosen.connect(self.compare)
        self.loader.image_ready.connect(self._on_full_image)
        self.loader.image_failed.connect(self._on_full_image_failed)
        self._background.finished.connect(self._on_reconciled)
        self.curator.done.connect(self._on_curated)
        v.back_requested.connect(self.show_grid)
        v.step_requested.connect(self._on_step)
        # bound methods, not lambdas: no reference cycle keeps a closed panel alive
        v.reuse_all_requested.connect(self._on_reuse_all)
        v.reuse_prompt_requested.connect(self._on_reuse_prompt)
        v.reuse_seed_requested.connect(self._on_reuse_seed)
        v.copy_requested.connect(self.copy_parameters)
        v.folder_requested.connect(self.open_folder)
        v.favorite_requested.connect(self.toggle_favorite)
        v.delete_requested.connect(self.delete_current)
        v.start_from_requested.connect(self._on_start_from)
        v.variations_requested.connect(self._on_variations)
        v.upscale_requested.connect(self._on_upscale)
        v.parent_requested.connect(self.open_path)

    # -- filling -----------------------------------------------------------------------

    def refresh(self) -> None:
        self.grid.refresh()

    @Slot(str)
    @Slot(str, object)
    def add_saved(self, path: str, metadata: object | None = None) -> None:
        """A file was just saved: index it and show it. With the metadata it was saved with
        (an ImageMetadata), the file is not read again."""
        meta = metadata if isinstance(metadata, ImageMetadata) else None
        try:
            row = self.gallery.index.add(Path(path), meta)
        except FileNotFoundError:
            why = f"{Path(path).name} is no longer there."
        except (UnreadableImage, OutsideGallery) as exc:
            why = str(exc)
        except OSError as exc:
            why = f"{Path(path).name} could not be read ({(exc.strerror or 'the system refused').lower()})."
        except sqlite3.Error:
            log.warning("The gallery index refused %s", path, exc_info=True)
            why = "the gallery index could not be updated."
        else:
            self.loader.forget(row.file)
            self.grid.show_row(row)
            return
        self.message.emit(f"The saved image could not be added to the gallery: {why}")

    def reconcile(self) -> None:
        """Bring the index in line with the folder off the GUI thread, then refresh."""
        if not self._closed:
            self._background.run(self.gallery.index.reconcile)

    @Slot(object, str)
    def _on_reconciled(self, report: object, error: str) -> None:
        if error:
            self.message.emit(f"The gallery could not be checked against its folder: {error.rstrip('.')}.")
            return
        added, removed = getattr(report, "added", 0), getattr(report, "removed", 0)
        if added or removed or getattr(report, "updated", 0):
            self.grid.refresh()
        if added or removed:
            self.message.emit(f"Gallery: {added} new, {removed} gone since last time.")

    # -- current image -----------------------------------------------------------------

    def viewing(self) -> bool:
        return self.pages.currentWidget() is self.viewer

    def current_path(self) -> Path | None:
        if self.viewing() and self.viewer.path is not None:
            return self.viewer.path
        return self.grid.current_path()

    def current_row(self) -> GalleryRow | None:
        path = self.current_path()
        return None if path is None else self.model.row_at(self.model.position(path))

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
        key = row.file
        self.viewer.show_image(
            row.path,
            meta,
            self.loader.pixmap(key),
            favorite=bool(row.favorite),
            position=(position, self.model.rowCount()),
            problem=problem,
        )
        self.loader.load_image(key)
        self.viewer.set_timeline(self._timeline_for(row.path))
        self.grid.select(position)
        self.pages.setCurrentWidget(self.viewer)
        self.viewer.setFocus()
        self.image_opened.emit(key)

    def _film_timeline(self, path: Path) -> QWidget | None:
        timeline = ViewerTimeline(path, self.viewer, noise=self.noise_enabled)
        if not timeline.useful:
            timeline.deleteLater()
            return None
        timeline.noise_requested.connect(self.noise_requested)
        self._timeline = timeline
        return timeline

    @Slot(str, float, object)
    def show_noised(self, path: str, fraction: float, image: object) -> None:
        """A noised picture (HxWx3 uint8) for `noise_requested`; stale answers are dropped."""
        timeline = self._timeline
        if (
            timeline is not None
            and self.viewing()
            and self.viewer.path == Path(path)
            and timeline.path == Path(path)
            and isinstance(image, np.ndarray)
        ):
            timeline.show_noised(fraction, image)

    def _timeline_for(self, path: Path) -> QWidget | None:
        self._timeline = None
        if self.timeline_provider is None:
            return None
        try:
            return self.timeline_provider(path)
        except (FilmError, UnreadableImage) as exc:  # these say what is wrong with the file
            self.viewer.set_status(f"The denoising film could not be shown: {exc}")
        except Exception:  # a film that cannot be read must not stop the viewer
            log.exception("The film of %s could not be shown", path)
            self.viewer.set_status(f"The denoising film could not be shown: {UNEXPECTED}.")
        return None

    @Slot()
    def show_grid(self) -> None:
        self.pages.setCurrentWidget(self.grid)
        index = self.view.currentIndex()
        if index.isValid():
            self.view.scrollTo(index)
        self.view.setFocus()

    @Slot(int)
    def _on_scrolled(self, _value: int) -> None:
        self.loader.hold()

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        self.open_position(index.row())

    @Slot(int)
    def _on_step(self, delta: int) -> None:
        path = self.viewer.path
        at = self.model.position(path) if path is not None else -1
        if at >= 0 and 0 <= at + delta < self.model.rowCount():
            self.open_position(at + delta)

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
            self.set_favorite(row, not row.favorite)

    @Slot(QModelIndex)
    def _on_star_clicked(self, index: QModelIndex) -> None:
        row = self.model.row_at(index.row())
        if row is not None:
            self.set_favorite(row, not row.favorite)

    def set_favorite(self, row: GalleryRow, favorite: bool) -> None:
        """Show the favorite now; the file and the index are changed off the GUI thread, and a
        failure is said and undone."""
        self._show_curation(row._replace(favorite=int(favorite)))
        self.curator.set_favorite(row.path, favorite)

    def set_rating(self, row: GalleryRow, rating: int) -> None:
        """Show a 0-5 rating now and store it like a favorite."""
        self._show_curation(row._replace(rating=rating))
        self.curator.set_rating(row.path, rating)

    def _show_curation(self, row: GalleryRow) -> None:
        filtering = self.grid.favorites_button.isChecked() and not self.viewing()
        if filtering and not row.favorite:
            self.grid.drop_row(row.path)
        elif filtering and self.model.position(row.path) < 0:
            self.grid.show_row(row)
        else:
            self.model.replace_row(row)
        if self.viewer.path == row.path:
            self.viewer.set_favorite(bool(row.favorite))

    @Slot()
    def delete_current(self) -> None:
        """Send the current image to the system trash off the GUI thread. It leaves the grid at
        once (Delete again acts on the next image) and comes back if the trash refuses it."""
        row = self.current_row()
        if row is None:
            return
        at = self.model.position(row.path)
        self.curator.trash(row.path)
        self.loader.forget(row.file)
        self.grid.drop_row(row.path)
        remaining = self.model.rowCount()
        if not remaining:
            self.viewer.path = None
            self.show_grid()
        elif self.viewing():
            self.open_position(min(at, remaining - 1))
        else:
            self.grid.select(min(at, remaining - 1))

    @Slot(object)
    def _on_curated(self, outcome: Outcome) -> None:
        if self._closed:  # the gallery may be closed already; the files say what was stored
            return
        match outcome:
            case Stored(path=path, favorite=favorite, rating=rating):
                self._settle_curation(path)
                if favorite is not None:
                    self.message.emit("Added to favorites." if favorite else "Removed from favorites.")
                elif rating is not None:
                    self.message.emit(f"Rated {path.name} {rating} of 5.")
            case NotStored(path=path, message=message):
                self._settle_curation(path)
                self._tell(message)
            case Trashed(path=path):
                self.message.emit(f"Moved {path.name} to the trash.")
            case NotTrashed(path=path, message=message):
                row = self.gallery.index.get(path)
                if row is not None and self.model.position(path) < 0:
                    self.grid.show_row(row)
                self._tell(message)

    def _settle_curation(self, path: Path) -> None:
        """Once no change to the file is still on its way, show what the index says (the
        change itself, or after a failure the value from before it)."""
        if not self.curator.busy(path) and (row := self.gallery.index.get(path)) is not None:
            self._show_curation(row)

    @Slot()
    @Slot(Path, Path)
    def compare(self, before: Path, after: Path) -> object:
        """Open a before/after slider between two gallery images; None when one cannot be read."""
        from studio.ui.compare_slider import open_compare  # loaded on first use

        self.compare_dialog = open_compare(before, after, self)
        if self.compare_dialog is None:
            self.message.emit(f"{before.name} or {after.name} cannot be read, so there is nothing to compare.")
        return self.compare_dialog

    def copy_parameters(self) -> None:
        path = self.current_path()
        if path is None:
            return
        meta = self.viewer.meta if self.viewer.path == path else None
        QGuiApplication.clipboard().setText(parameters_text(path, meta))
        self.message.emit("Parameters copied.")

    @Slot()
    def open_folder(self) -> None:
        path = self.current_path()
        if path is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))):
            self._tell(f"Could not open {path.parent}.")

    def reuse(self, mode: ReuseMode) -> ReuseDialog | None:
        """Offer the current image's parameters to the controls, showing what would change."""
        path = self.current_path()
        if path is None:
            return None
        if self.controls is None:
            self._tell("There are no parameter controls to reuse into.")
            return None
        meta = self._metadata_of(path)
        if meta is None:
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
    def _on_start_from(self) -> None:
        path = self.current_path()
        if path is not None:
            self.start_image_chosen.emit(str(path))
            self.message.emit(f"Starting from {path.name}: set the strength beside the prompt.")

    @Slot()
    def _on_variations(self) -> None:
        path = self.current_path()
        if path is None or self.controls is None:
            return
        meta = self._metadata_of(path)
        if meta is None:
            return
        request, notes = reused_request(self.controls.request(), meta, ReuseMode.ALL)
        if request is None:
            self._tell(notes[-1] if notes else "The image's parameters could not be read.")
            return
        self.variations_chosen.emit(request)
        self.message.emit(f"Variations of {path.name}: " + " ".join(notes) if notes else
                          f"Variations of {path.name}, in the results strip as they finish.")

    def _metadata_of(self, path: Path) -> ImageMetadata | None:
        """What `path` says of how it was made (its mask restored from the private store when
        the file is gone); None, with the reason told, when it cannot be read."""
        meta = self.viewer.meta if self.viewer.path == path else None
        if meta is None:
            try:
                meta = read_metadata(path)
            except UnreadableImage as exc:
                self._tell(str(exc))
                return None
        return with_restored_mask(meta, path, self.gallery.folder / PRIVATE_DIR / "masks")

    @Slot()
    def _on_upscale(self) -> None:
        path = self.current_path()
        if path is not None:
            self.upscale_chosen.emit(str(path))

    @Slot(str)
    def open_path(self, path: str) -> None:
        """Show the image at `path` in the viewer, when the gallery holds it."""
        position = self.model.position(path)
        if position < 0:
            self._tell(f"{Path(path).name} is not in the gallery (moved or deleted?).")
            return
        self.open_position(position)

    @Slot()
    def _on_reuse_all(self) -> None:
        self.reuse(ReuseMode.ALL)

    @Slot()
    def _on_reuse_prompt(self) -> None:
        self.reuse(ReuseMode.PROMPT)

    @Slot()
    def _on_reuse_seed(self) -> None:
        self.reuse(ReuseMode.SEED)

    @Slot()
    def _forget_dialog(self) -> None:
        self.reuse_dialog = None

    def _tell(self, text: str) -> None:
        if self.viewing():
            self.viewer.set_status(text)
        self.message.emit(text)

    # -- life cycle --------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop the thumbnail threads; call before the gallery closes. Safe to call twice."""
        if not self._closed:
            self._closed = True
            self.loader.shutdown()
            self.curator.wait()
            self._background.wait()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1000, 720)
