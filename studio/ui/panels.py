"""The progress line, the strip of this session's results, and the visible queue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QSize, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.engine.run.request import GenerationRequest
from studio.ui.controller import Job
from studio.ui.preview import image_from_array
from studio.ui.theme import icon
from studio.ui.widgets import plain_label, plain_tooltip, section_label

if TYPE_CHECKING:
    import numpy as np

REQUEST_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
ARRAY_ROLE = Qt.ItemDataRole.UserRole + 3
JOB_ROLE = Qt.ItemDataRole.UserRole + 4
THUMB = 84


def describe_request(request: GenerationRequest) -> str:
    prompt = " ".join(request.prompt.split()) or "(no prompt)"
    seed = "random seed" if request.seed is None else f"seed {request.seed}"
    return f"{prompt}\n{request.steps} steps · {request.size} · {request.scheduler} · {seed}"


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}:{secs:02d}"


class RunStatus(QWidget):
    """Step k/N, iterations per second and time left, above a thin progress bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.state = plain_label("Loading the engine…", "StatsLabel")
        self.stats = plain_label("", "StatsLabel")
        self.stats.setAlignment(Qt.AlignmentFlag.AlignRight)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.state, 1)
        top.addWidget(self.stats)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.bar)

    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def start(self, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(0)
        self.state.setText(f"Step 0/{total}")
        self.stats.setText("")

    def step(self, index: int, total: int, elapsed: float) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(index)
        self.state.setText(f"Step {index}/{total}")
        if elapsed > 0 and index > 0:
            rate = index / elapsed
            eta = (total - index) / rate
            speed = f"{rate:.1f} it/s" if rate >= 1 else f"{1 / rate:.1f} s/it"
            self.stats.setText(f"{speed} · {format_duration(eta)} left")

    def done(self, text: str) -> None:
        self.state.setText(text)
        self.stats.setText("")
        self.bar.setValue(self.bar.maximum() if text.startswith("Done") else 0)


class ResultsStrip(QListWidget):
    """The images made since the app started, newest first.

    Signals:
        chosen(object, str): an image to show: its array when it was not saved (else None),
            and its saved path ("" if unsaved).
        reuse_requested(object): put this GenerationRequest back into the controls.
    """

    chosen = Signal(object, str)
    reuse_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ResultsStrip")
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
        self.currentItemChanged.connect(self._on_current)
        self.itemDoubleClicked.connect(self._on_double_clicked)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_menu)
        self.setToolTip("")

    def add_result(self, array: np.ndarray, path: str, request: GenerationRequest) -> None:
        pixmap = QPixmap.fromImage(image_from_array(array))
        mode = (
            Qt.TransformationMode.FastTransformation
            if pixmap.width() < THUMB
            else Qt.TransformationMode.SmoothTransformation
        )
        thumb = pixmap.scaled(QSize(THUMB, THUMB), Qt.AspectRatioMode.KeepAspectRatio, mode)
        item = QListWidgetItem(QIcon(thumb), "")
        item.setData(REQUEST_ROLE, request)
        item.setData(PATH_ROLE, path)
        # saved images are read back from their file when chosen; only unsaved ones stay in memory
        item.setData(ARRAY_ROLE, None if path else array)
        where = path or "not saved"
        item.setToolTip(plain_tooltip(f"{describe_request(request)}\n{where}"))
        self.insertItem(0, item)
        self.blockSignals(True)
        self.setCurrentItem(item)
        self.blockSignals(False)

    def request_at(self, row: int) -> GenerationRequest | None:
        item = self.item(row)
        if item is None:
            return None
        request: GenerationRequest = item.data(REQUEST_ROLE)
        return request

    @Slot(QListWidgetItem)
    def _on_double_clicked(self, item: QListWidgetItem) -> None:
        self.reuse_requested.emit(item.data(REQUEST_ROLE))

    @Slot(QPoint)
    def _on_menu(self, position: QPoint) -> None:
        item = self.itemAt(position)
        if item is None:
            return
        menu = QMenu(self)
        reuse = menu.addAction(icon("reuse-seed"), "Use these settings")
        reuse.triggered.connect(lambda: self.reuse_requested.emit(item.data(REQUEST_ROLE)))
        path = item.data(PATH_ROLE)
        folder = menu.addAction(icon("folder"), "Show the file's folder")
        folder.setEnabled(bool(path))
        folder.triggered.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
        )
        menu.exec(self.viewport().mapToGlobal(position))

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None:
            self.chosen.emit(item.data(ARRAY_ROLE), item.data(PATH_ROLE))


class QueuePanel(QWidget):
    """The running job and the ones waiting, with remove and clear.

    Signals:
        remove_requested(int): the job id to drop from the queue.
        clear_requested(): drop every waiting job.
    """

    remove_requested = Signal(int)
    clear_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueuePanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.list = QListWidget()
        self.list.setObjectName("QueueList")
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(3)
        self.remove_button = QToolButton()
        self.remove_button.setIcon(icon("remove"))
        self.remove_button.setToolTip("Remove the selected request (Delete)")
        self.clear_button = QToolButton()
        self.clear_button.setIcon(icon("clear"))
        self.clear_button.setToolTip("Clear the queue")
        self.empty_label = plain_label(
            "Nothing waiting. Generate while a run is going to queue more.", "HintLabel", wrap=True
        )

        head = QHBoxLayout()
        head.setSpacing(4)
        head.addWidget(section_label("Queue"))
        head.addStretch(1)
        head.addWidget(self.remove_button)
        head.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)
        self._filler = QWidget()  # takes the list's room while the list is hidden
        self._filler.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout.addWidget(self._filler, 1)
        self.remove_button.clicked.connect(self._on_remove)
        self.clear_button.clicked.connect(self.clear_requested)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.installEventFilter(self)
        self.show_jobs(None, [])

    def show_jobs(self, current: Job | None, waiting: list[Job]) -> None:
        self.list.clear()
        if current is not None:
            item = QListWidgetItem(icon("generate"), "Now: " + describe_request(current.request))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setData(JOB_ROLE, -1)
            self.list.addItem(item)
        for position, job in enumerate(waiting, start=1):
            item = QListWidgetItem(f"{position}. {describe_request(job.request)}")
            item.setData(JOB_ROLE, job.id)
            item.setToolTip(plain_tooltip(job.request.prompt))
            self.list.addItem(item)
        self.empty_label.setVisible(not waiting)
        self.list.setVisible(self.list.count() > 0)
        self._filler.setVisible(self.list.count() == 0)
        self.clear_button.setEnabled(bool(waiting))
        self._update_buttons()

    def eventFilter(self, watched: object, event: object) -> bool:
        if (
            watched is self.list
            and isinstance(event, QKeyEvent)
            and event.type() == QKeyEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
        ):
            self._on_remove()
            return True
        return False

    @Slot()
    def _on_remove(self) -> None:
        item = self.list.currentItem()
        if item is not None and item.isSelected() and item.data(JOB_ROLE) > 0:
            self.remove_requested.emit(int(item.data(JOB_ROLE)))

    @Slot()
    def _update_buttons(self) -> None:
        item = self.list.currentItem()
        self.remove_button.setEnabled(
            item is not None and item.isSelected() and item.data(JOB_ROLE) > 0
        )
