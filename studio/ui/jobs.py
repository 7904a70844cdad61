"""The job model: every job of this session and the ones restored from the last, in one
Qt item model that events update in one place (`apply`).

The queue panel and the results strip are views of it; nothing else keeps a job's state.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal

from studio.engine.errors import Cause
from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Cancelled, Failed, Finished, Started, Step
from studio.engine.run.request import GenerationRequest
from studio.ui.events import Delivered, JobEvent, SaveFailed

if TYPE_CHECKING:
    import numpy as np

JOB_ROLE = Qt.ItemDataRole.UserRole + 1  # the Job itself
STATE_ROLE = Qt.ItemDataRole.UserRole + 2  # its JobState
ID_ROLE = Qt.ItemDataRole.UserRole + 3  # its id
STATE_NAME_ROLE = Qt.ItemDataRole.UserRole + 4  # its state's name, for filters

ModelIndex = QModelIndex | QPersistentModelIndex


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # the app stopped (quit, crash, kill) while it ran

    @property
    def waiting(self) -> bool:
        return self is JobState.QUEUED

    @property
    def retryable(self) -> bool:
        return self in (JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


@dataclass
class Job:
    id: int
    request: GenerationRequest
    state: JobState = JobState.QUEUED
    step: int = 0
    total: int = 0
    elapsed: float = 0.0
    message: str = ""  # why it failed, was cancelled or interrupted, in words
    details: str = ""  # for a bug report
    cause: Cause | None = None
    # the finished images that are not on disk (None where the image was saved: its file has it)
    arrays: list[np.ndarray | None] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # "" where an image could not be saved
    unsaved: list[SaveFailed] = field(default_factory=list)  # images kept to save elsewhere
    restored: bool = False  # came back from the last session and waits for a yes
    cancel: CancelToken = field(default_factory=CancelToken, repr=False)


def describe_request(request: GenerationRequest) -> str:
    prompt = " ".join(request.prompt.split()) or "(no prompt)"
    seed = "random seed" if request.seed is None else f"seed {request.seed}"
    return f"{prompt}\n{request.steps} steps · {request.size} · {request.scheduler} · {seed}"


def describe_job(job: Job) -> str:
    """Two lines whatever the state, so every row of a long queue has the same height."""
    prompt = " ".join(job.request.prompt.split()) or "(no prompt)"
    settings = describe_request(job.request).split("\n", 1)[1]
    match job.state:
        case JobState.RUNNING:
            step = f" · step {job.step}/{job.total}" if job.total else ""
            return f"Now: {prompt}\n{settings}{step}"
        case JobState.FAILED:
            return f"Failed: {prompt}\n{settings}"
        case JobState.INTERRUPTED:
            return f"Interrupted: {prompt}\n{settings}"
        case JobState.CANCELLED:
            return f"Cancelled: {prompt}\n{settings}"
        case JobState.DONE:
            return f"Done: {prompt}\n{settings}"
        case _:
            return f"{prompt}\n{settings}"


class JobModel(QAbstractListModel):
    """The jobs, oldest first.

    Signals:
        stored_changed(): something that is kept on disk changed (a job added, removed, moved,
            or its state); the controller writes the queue.
        job_changed(object): a job's state or progress changed (the Job).
    """

    stored_changed = Signal()
    job_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []
        self._ids = itertools.count(1)

    # -- reading -------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._jobs)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._jobs):
            return None
        job = self._jobs[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return describe_job(job)
        if role == Qt.ItemDataRole.ToolTipRole:
            return None  # views set plain-text tooltips themselves
        if role == JOB_ROLE:
            return job
        if role == STATE_ROLE:
            return job.state
        if role == ID_ROLE:
            return job.id
        if role == STATE_NAME_ROLE:
            return job.state.value
        return None

    def jobs(self, *states: JobState) -> list[Job]:
        return [job for job in self._jobs if not states or job.state in states]

    def get(self, job_id: int) -> Job | None:
        row = self._row(job_id)
        return self._jobs[row] if row is not None else None

    def index_of(self, job_id: int) -> QModelIndex:
        row = self._row(job_id)
        return self.index(row, 0) if row is not None else QModelIndex()

    @property
    def running(self) -> Job | None:
        return next((job for job in self._jobs if job.state is JobState.RUNNING), None)

    def next_waiting(self) -> Job | None:
        return next((job for job in self._jobs if job.state is JobState.QUEUED and not job.restored), None)

    # -- changing --------------------------------------------------------------------------

    def add(self, request: GenerationRequest, *, job_id: int | None = None,
            state: JobState = JobState.QUEUED, message: str = "", restored: bool = False) -> Job:
        job = Job(job_id if job_id is not None else self._new_id(), request, state, message=message,
                  restored=restored)
        if job_id is not None:
            self._ids = itertools.count(max(job_id + 1, next(self._ids)))
        row = len(self._jobs)
        self.beginInsertRows(QModelIndex(), row, row)
        self._jobs.append(job)
        self.endInsertRows()
        self.stored_changed.emit()
        return job

    def remove(self, job_id: int) -> bool:
        """Drop a job that is not running."""
        row = self._row(job_id)
        if row is None or self._jobs[row].state is JobState.RUNNING:
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._jobs[row]
        self.endRemoveRows()
        self.stored_changed.emit()
        return True

    def remove_waiting(self, *, restored_only: bool = False) -> int:
        doomed = [j.id for j in self._jobs if j.state is JobState.QUEUED and (j.restored or not restored_only)]
        for job_id in doomed:
            self.remove(job_id)
        return len(doomed)

    def move(self, job_id: int, delta: int) -> bool:
        """Move a waiting job `delta` places among the waiting jobs (negative: sooner)."""
        waiting = [i for i, j in enumerate(self._jobs) if j.state is JobState.QUEUED]
        row = self._row(job_id)
        if row is None or row not in waiting:
            return False
        place = waiting.index(row)
        target_place = max(0, min(len(waiting) - 1, place + delta))
        if target_place == place:
            return False
        target = waiting[target_place]
        destination = target + 1 if target > row else target  # Qt counts the gap before the move
        self.beginMoveRows(QModelIndex(), row, row, QModelIndex(), destination)
        job = self._jobs.pop(row)
        self._jobs.insert(target, job)
        self.endMoveRows()
        self.stored_changed.emit()
        return True

    def duplicate(self, job_id: int) -> Job | None:
        job = self.get(job_id)
        return self.add(job.request) if job is not None else None

    def retry(self, job_id: int) -> Job | None:
        """Queue a failed, cancelled or interrupted job again, in its place."""
        job = self.get(job_id)
        if job is None or not job.state.retryable:
            return None
        job.state, job.message, job.details, job.cause = JobState.QUEUED, "", "", None
        job.step = job.total = 0
        job.restored = False
        job.cancel = CancelToken()
        self._changed(job, stored=True)
        return job

    def release_restored(self) -> int:
        """The person said yes: restored jobs may run."""
        released = [job for job in self._jobs if job.restored]
        for job in released:
            job.restored = False
            self._changed(job)
        return len(released)

    def wait_again(self, job: Job) -> None:
        """Put a job that could not start back in its place in the queue (its server is down)."""
        job.state, job.step, job.total = JobState.QUEUED, 0, 0
        self._changed(job, stored=True)

    def set_running(self, job: Job) -> None:
        job.state = JobState.RUNNING
        self._changed(job, stored=True)

    # -- the one place events change jobs ----------------------------------------------------

    def apply(self, event: JobEvent) -> Job | None:
        """Update the job `event` is about; returns it (None for events about no known job)."""
        job = self.get(event.job)
        if job is None:
            return None
        match event.event:
            case Started(request=request, total=total):
                job.request, job.total, job.step = request, total, 0  # the seed is resolved now
                self._changed(job, stored=True)
            case Step(index=index, total=total, elapsed=elapsed):
                job.step, job.total, job.elapsed = index, total, elapsed
                self._changed(job)
            case Finished(request=request, elapsed=elapsed):
                job.request, job.elapsed = request, elapsed
                self._changed(job)
            case SaveFailed() as failed:
                job.unsaved.append(failed)
            case Delivered(arrays=arrays, paths=paths, elapsed=elapsed):
                job.arrays = [None if path else array for array, path in zip(arrays, paths, strict=True)]
                job.paths, job.elapsed = list(paths), elapsed
                job.state = JobState.DONE
                self._changed(job, stored=True)
            case Cancelled(steps_done=steps):
                job.state, job.step = JobState.CANCELLED, steps
                job.message = f"Cancelled after {steps} of {job.request.steps} steps"
                self._changed(job, stored=True)
            case Failed(message=message, details=details, cause=cause):
                job.state, job.message, job.details, job.cause = JobState.FAILED, message, details, cause
                self._changed(job, stored=True)
        return job

    # -- internals ---------------------------------------------------------------------------

    def _new_id(self) -> int:
        return next(self._ids)

    def _row(self, job_id: int) -> int | None:
        for row, job in enumerate(self._jobs):
            if job.id == job_id:
                return row
        return None

    def _changed(self, job: Job, *, stored: bool = False) -> None:
        row = self._row(job.id)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index)
        self.job_changed.emit(job)
        if stored:
            self.stored_changed.emit()
