"""The visible queue: a view of the job model showing the running job, the waiting ones, and
the ones that failed or were interrupted (to retry), with their commands."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QListView,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.jobs import JOB_ROLE, STATE_NAME_ROLE, STATE_ROLE, Job, JobModel, JobState, describe_request
from studio.ui.theme import icon
from studio.ui.widgets import plain_label, plain_tooltip, section_label

SHOWN = (JobState.RUNNING, JobState.QUEUED, JobState.FAILED, JobState.INTERRUPTED)
STATE_ICONS = {
    JobState.RUNNING: "generate",
    JobState.QUEUED: "queue",
    JobState.FAILED: "cancel",
    JobState.INTERRUPTED: "retry",
}


class QueueJobs(QSortFilterProxyModel):
    """The jobs the queue panel shows, in the job model's order, with their icons and tooltips."""

    def __init__(self, jobs: JobModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(jobs)
        # a filter on a role is re-applied by Qt itself whenever a job's state changes
        self.setDynamicSortFilter(True)
        self.setFilterRole(STATE_NAME_ROLE)
        self.setFilterRegularExpression(QRegularExpression("^(" + "|".join(s.value for s in SHOWN) + ")$"))
        # drawn once: a view of a thousand jobs asks for every row's icon on each change
        self._icons = {state: icon(name) for state, name in STATE_ICONS.items()}

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icons.get(super().data(index, STATE_ROLE))
        if role == Qt.ItemDataRole.ToolTipRole:
            job = super().data(index, JOB_ROLE)
            if isinstance(job, Job):
                why = f"\n\n{job.message}" if job.message else ""  # a failure's reason, in full
                return plain_tooltip(f"{describe_request(job.request)}{why}")
        return super().data(index, role)


class QueuePanel(QWidget):
    """The running job and the ones waiting, with move, duplicate, retry, remove and clear.

    Signals:
        remove_requested(int), move_requested(int, int), duplicate_requested(int),
        retry_requested(int): a job id (and, for a move, places to move: -1 sooner, +1 later).
        clear_requested(): drop every waiting job.
        run_restored_requested(), discard_restored_requested(): the answer to the offer of
            the jobs the last session left waiting.
    """

    remove_requested = Signal(int)
    move_requested = Signal(int, int)
    duplicate_requested = Signal(int)
    retry_requested = Signal(int)
    clear_requested = Signal()
    run_restored_requested = Signal()
    discard_restored_requested = Signal()

    def __init__(self, jobs: JobModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("QueuePanel")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.jobs = jobs
        self.shown = QueueJobs(jobs, self)
        self.list = QListView()
        self.list.setObjectName("QueueList")
        self.list.setModel(self.shown)
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSpacing(3)
        self.list.setUniformItemSizes(True)  # every row is two lines (describe_job)

        self.up_button = self._tool("arrow-up", "Run the selected job sooner (Ctrl+Up)")
        self.down_button = self._tool("arrow-down", "Run the selected job later (Ctrl+Down)")
        self.duplicate_button = self._tool("copy", "Queue the selected job once more")
        self.retry_button = self._tool("retry", "Run the selected failed or interrupted job again")
        self.remove_button = self._tool("remove", "Remove the selected job (Delete)")
        self.clear_button = self._tool("clear", "Clear the waiting jobs")
        self.empty_label = plain_label(
            "Nothing waiting. Generate while a run is going to queue more.", "HintLabel", wrap=True
        )
        self.restored_label = plain_label("", "HintLabel", wrap=True)
        self.run_restored_button = QPushButton("Run them")
        self.discard_restored_button = QPushButton("Discard")
        offer_buttons = QHBoxLayout()
        offer_buttons.setContentsMargins(0, 0, 0, 0)
        offer_buttons.addWidget(self.run_restored_button)
        offer_buttons.addWidget(self.discard_restored_button)
        offer_buttons.addStretch(1)
        self.offer = QWidget()
        self.offer.setObjectName("RestoredOffer")
        offer_layout = QVBoxLayout(self.offer)
        offer_layout.setContentsMargins(0, 0, 0, 0)
        offer_layout.addWidget(self.restored_label)
        offer_layout.addLayout(offer_buttons)

        tools = QHBoxLayout()  # a row of its own: six buttons leave the title no room beside them
        tools.setSpacing(2)
        for button in (self.up_button, self.down_button, self.duplicate_button, self.retry_button):
            tools.addWidget(button)
        tools.addStretch(1)
        tools.addWidget(self.remove_button)
        tools.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(8)
        layout.addWidget(section_label("Queue"))
        layout.addLayout(tools)
        layout.addWidget(self.offer)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty_label)
        self._filler = QWidget()  # takes the list's room while the list is hidden
        self._filler.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        layout.addWidget(self._filler, 1)

        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self.duplicate_button.clicked.connect(lambda: self._emit_for(self.duplicate_requested))
        self.retry_button.clicked.connect(lambda: self._emit_for(self.retry_requested))
        self.remove_button.clicked.connect(self._on_remove)
        self.clear_button.clicked.connect(self.clear_requested)
        self.run_restored_button.clicked.connect(self.run_restored_requested)
        self.discard_restored_button.clicked.connect(self.discard_restored_requested)
        self.list.selectionModel().selectionChanged.connect(self._update)
        for signal in (self.shown.rowsInserted, self.shown.rowsRemoved, self.shown.modelReset,
                       self.shown.layoutChanged, self.shown.rowsMoved, self.shown.dataChanged):
            signal.connect(self._update)
        self.list.installEventFilter(self)
        self._update()

    def _tool(self, name: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(name))
        button.setToolTip(tip)
        return button

    def selected(self) -> Job | None:
        index = self.list.currentIndex()
        if not index.isValid() or not self.list.selectionModel().isSelected(index):
            return None
        job = index.data(JOB_ROLE)
        return job if isinstance(job, Job) else None

    def select_job(self, job_id: int) -> None:
        source = self.jobs.index_of(job_id)
        index = self.shown.mapFromSource(source)
        if index.isValid():
            self.list.setCurrentIndex(index)

    def row_count(self) -> int:
        return self.shown.rowCount()

    def show_restored(self, count: int, interrupted: int) -> None:
        """Offer the jobs the last session left (hidden when both counts are 0)."""
        parts = []
        if count:
            parts.append(f"{count} job{'s' if count != 1 else ''} from the last session "
                         f"{'are' if count != 1 else 'is'} waiting.")
        if interrupted:
            parts.append(f"{interrupted} {'were' if interrupted != 1 else 'was'} interrupted: "
                         "select and retry to run again.")
        self.restored_label.setText(" ".join(parts))
        self.run_restored_button.setVisible(bool(count))
        self.discard_restored_button.setVisible(bool(count))
        self.offer.setVisible(bool(parts))

    def eventFilter(self, watched: QObject, event: object) -> bool:
        if watched is self.list and isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self._on_remove()
                return True
            if event.modifiers() & Qt.KeyboardModifier.ControlModifier and event.key() in (Qt.Key.Key_Up,
                                                                                        Qt.Key.Key_Down):
                self._move(-1 if event.key() == Qt.Key.Key_Up else 1)
                return True
        return False

    def _emit_for(self, signal: Any) -> None:
        job = self.selected()
        if job is not None:
            signal.emit(job.id)

    def _move(self, delta: int) -> None:
        job = self.selected()
        if job is not None and job.state is JobState.QUEUED:
            self.move_requested.emit(job.id, delta)
            self.select_job(job.id)

    @Slot()
    def _on_remove(self) -> None:
        job = self.selected()
        if job is not None and job.state is not JobState.RUNNING:
            self.remove_requested.emit(job.id)

    @Slot()
    def _update(self) -> None:
        job = self.selected()
        waiting = self.jobs.jobs(JobState.QUEUED)
        self.empty_label.setVisible(not waiting)
        count = self.shown.rowCount()
        self.list.setVisible(count > 0)
        self._filler.setVisible(count == 0)
        self.clear_button.setEnabled(bool(waiting))
        queued = job is not None and job.state is JobState.QUEUED
        self.up_button.setEnabled(queued)
        self.down_button.setEnabled(queued)
        self.duplicate_button.setEnabled(job is not None)
        self.retry_button.setEnabled(job is not None and job.state.retryable)
        self.remove_button.setEnabled(job is not None and job.state is not JobState.RUNNING)
        if not any(j.restored for j in waiting) and not self.jobs.jobs(JobState.INTERRUPTED):
            self.offer.hide()

