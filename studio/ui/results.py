"""The strip of this session's results: one thumbnail per image of every finished job.

`ResultsModel` is a view of the job model: its rows are (job, image number) of done jobs,
newest first; what an image is (request, file, or the pixels of an unsaved one) is read
from the job each time, never copied.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QDesktopServices, QGuiApplication, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QWidget

from studio.ui.events import Delivered, JobEvent, SaveFailed
from studio.ui.jobs import ID_ROLE, Job, JobModel, JobState, describe_request
from studio.ui.preview import image_from_array
from studio.ui.theme import icon
from studio.ui.widgets import plain_tooltip

if TYPE_CHECKING:
    import numpy as np

REQUEST_ROLE = Qt.ItemDataRole.UserRole + 11  # the image's own GenerationRequest (its seed)
PATH_ROLE = Qt.ItemDataRole.UserRole + 12  # its file, "" when it could not be saved
ARRAY_ROLE = Qt.ItemDataRole.UserRole + 13  # HxWx3 uint8 of an unsaved image, else None
THUMB = 84

ModelIndex = QModelIndex | QPersistentModelIndex


class ResultsModel(QAbstractListModel):
    """The images of done jobs, newest first (see the module docstring)."""

    def __init__(self, jobs: JobModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = jobs
        self._rows: list[tuple[int, int]] = []  # (job id, image number)
        self._icons: dict[tuple[int, int], QIcon] = {}
        jobs.rowsAboutToBeRemoved.connect(self._on_jobs_removed)

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        key = self._rows[index.row()]
        job = self._jobs.get(key[0])
        if job is None or key[1] >= len(job.paths):
            return None
        number = key[1]
        path = job.paths[number]
        # painting asks for the icon of every visible row on every repaint, so answer it first:
        # the image's own request is built only for the roles that show it
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icons.get(key)
        if role == PATH_ROLE:
            return path
        if role == ARRAY_ROLE:
            return job.arrays[number] if number < len(job.arrays) else None
        if role == Qt.ItemDataRole.ToolTipRole:
            request = job.request.per_image()[number]
            return plain_tooltip(f"{describe_request(request)}\n{path or 'not saved'}")
        if role == REQUEST_ROLE:
            return job.request.per_image()[number]
        return None

    def job_at(self, row: int) -> tuple[Job | None, int]:
        """The job and image number behind a row."""
        if not 0 <= row < len(self._rows):
            return None, 0
        job_id, number = self._rows[row]
        return self._jobs.get(job_id), number

    @Slot(object)
    def on_event(self, event: JobEvent) -> None:
        """Add the images of a job that was just delivered (connect the controller's event)."""
        if not isinstance(event.event, Delivered):
            return
        job = self._jobs.get(event.job)
        if job is None or job.state is not JobState.DONE:
            return
        arrays = event.event.arrays
        self.beginInsertRows(QModelIndex(), 0, len(arrays) - 1)
        for number in reversed(range(len(arrays))):
            key = (job.id, number)
            self._rows.insert(0, key)
            self._icons[key] = _thumbnail(arrays[number])
        self.endInsertRows()

    @Slot(QModelIndex, int, int)
    def _on_jobs_removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        gone = {self._jobs.index(row, 0).data(ID_ROLE) for row in range(first, last + 1)}
        for row in reversed(range(len(self._rows))):
            if self._rows[row][0] in gone:
                self.beginRemoveRows(QModelIndex(), row, row)
                self._icons.pop(self._rows.pop(row), None)
                self.endRemoveRows()


def _thumbnail(array: np.ndarray) -> QIcon:
    # made at the densest screen's pixel ratio, so the strip is sharp on a 200% screen
    app = QGuiApplication.instance()
    ratio = max(1.0, app.devicePixelRatio()) if isinstance(app, QGuiApplication) else 1.0
    side = round(THUMB * ratio)
    pixmap = QPixmap.fromImage(image_from_array(array))
    mode = (
        Qt.TransformationMode.FastTransformation
        if pixmap.width() < side
        else Qt.TransformationMode.SmoothTransformation
    )
    scaled = pixmap.scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio, mode)
    scaled.setDevicePixelRatio(ratio)
    return QIcon(scaled)


class ResultsStrip(QListView):
    """The images made since the app started, newest first.

    Signals:
        chosen(object, str): an image to show: its array when it was not saved (else None),
            and its saved path ("" if unsaved).
        reuse_requested(object): put this GenerationRequest back into the controls.
        save_requested(int): save the unsaved image in this row somewhere else.
    """

    chosen = Signal(object, str)
    reuse_requested = Signal(object)
    save_requested = Signal(int)

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ResultsStrip")
        self.setModel(model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setSpacing(4)
        self.setFixedHeight(THUMB + 30)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.doubleClicked.connect(self._on_double_clicked)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_menu)
        self.selectionModel().currentChanged.connect(self._on_current)
        model.rowsInserted.connect(self._on_inserted)

    def count(self) -> int:
        return self.model().rowCount()

    def request_at(self, row: int) -> Any:
        return self.model().index(row, 0).data(REQUEST_ROLE)

    def path_at(self, row: int) -> str:
        return str(self.model().index(row, 0).data(PATH_ROLE) or "")

    def setCurrentRow(self, row: int) -> None:
        self.setCurrentIndex(self.model().index(row, 0))

    @Slot(QModelIndex, int, int)
    def _on_inserted(self, _parent: QModelIndex, first: int, _last: int) -> None:
        # the newest result is the current one, without asking the canvas to show it again
        self.selectionModel().blockSignals(True)
        self.setCurrentIndex(self.model().index(first, 0))
        self.selectionModel().blockSignals(False)
        self.viewport().update()

    @Slot(QModelIndex)
    def _on_double_clicked(self, index: QModelIndex) -> None:
        self.reuse_requested.emit(index.data(REQUEST_ROLE))

    @Slot(QPoint)
    def _on_menu(self, position: QPoint) -> None:
        index = self.indexAt(position)
        if not index.isValid():
            return
        menu = QMenu(self)
        reuse = menu.addAction(icon("reuse-seed"), "Use these settings")
        reuse.triggered.connect(lambda: self.reuse_requested.emit(index.data(REQUEST_ROLE)))
        path = str(index.data(PATH_ROLE) or "")
        if path:
            folder = menu.addAction(icon("folder"), "Show the file's folder")
            folder.triggered.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
            )
        else:
            save = menu.addAction(icon("folder"), "Save this image as…")
            save.triggered.connect(lambda: self.save_requested.emit(index.row()))
        menu.exec(self.viewport().mapToGlobal(position))

    @Slot(QModelIndex, QModelIndex)
    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.chosen.emit(current.data(ARRAY_ROLE), str(current.data(PATH_ROLE) or ""))


def save_result_as(unsaved: SaveFailed, target: Path) -> Path:
    """Write an image the gallery could not take to `target` (as .png, never over another
    file), with the same metadata inside; raises SaveError or ValueError."""
    import time

    from studio.config.atomic import write_atomic
    from studio.library.store import encode_png

    data = encode_png(unsaved.image, unsaved.request, created=time.time())
    return write_atomic(target.with_suffix(".png"), data, replace=False)
