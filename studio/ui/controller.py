"""The queue of requests and the worker thread, seen from the GUI thread."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from studio.engine.run.cancel import CancelToken
from studio.engine.run.request import GenerationRequest
from studio.ui.worker import EngineFactory, GenerationWorker, ImageSaver


@dataclass(frozen=True)
class Job:
    id: int
    request: GenerationRequest
    cancel: CancelToken = field(default_factory=CancelToken, compare=False)


class GenerationController(QObject):
    """Queues requests and feeds them, one at a time, to the worker thread.

    Signals:
        engine_ready(str): the engine is loaded on the named device.
        engine_failed(str, str): the engine could not load (message, details).
        queue_changed(): jobs were added, removed or started.
        busy_changed(bool): a run started or the worker went idle with nothing queued.
        run_started(object, int): request (seed resolved), step total.
        step(int, int, float): index, total, seconds elapsed.
        preview(object, int, int): HxWx3 uint8 array, index, total (newest only).
        finished(object, object, object, float): request, image arrays, saved paths, seconds.
        image_saved(str): a file was written to the gallery folder.
        save_failed(str): an image could not be saved.
        cancelled(object, int): request, steps done.
        failed(object, str, str): request, message, details.
        pickle_refused(object, str): after `failed`: the request needs consent to open this
            pickle file; resubmit the request once the person allows it.
        noised(str, float, object): path, fraction, HxWx3 uint8 of the image noised that far.
        noise_failed(str): the noise view could not be made; the message says why.
    """

    engine_ready = Signal(str)
    engine_failed = Signal(str, str)
    queue_changed = Signal()
    busy_changed = Signal(bool)
    run_started = Signal(object, int)
    step = Signal(int, int, float)
    preview = Signal(object, int, int)
    finished = Signal(object, object, object, float)
    image_saved = Signal(str)
    save_failed = Signal(str)
    cancelled = Signal(object, int)
    failed = Signal(object, str, str)
    pickle_refused = Signal(object, str)
    noised = Signal(str, float, object)
    noise_failed = Signal(str)
    noise_requested = Signal(str, float)

    _warm_up_requested = Signal()
    _run_requested = Signal(object, object)

    def __init__(
        self, make_engine: EngineFactory, save_image: ImageSaver, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._queue: list[Job] = []
        self._current: Job | None = None
        self._thread: QThread | None = None
        self._worker = GenerationWorker(make_engine, save_image)
        self._shut_down = False

        w, queued = self._worker, Qt.ConnectionType.QueuedConnection
        self._warm_up_requested.connect(w.warm_up, queued)
        self._run_requested.connect(w.run, queued)
        w.ready.connect(self.engine_ready, queued)
        w.warm_up_failed.connect(self.engine_failed, queued)
        w.started.connect(self.run_started, queued)
        w.progress.connect(self.step, queued)
        w.preview_ready.connect(self._on_preview_ready, queued)
        w.finished.connect(self.finished, queued)
        w.saved.connect(self.image_saved, queued)
        w.save_failed.connect(self.save_failed, queued)
        w.cancelled.connect(self.cancelled, queued)
        w.failed.connect(self.failed, queued)
        w.pickle_refused.connect(self.pickle_refused, queued)
        w.idle.connect(self._on_worker_idle, queued)
        self.noise_requested.connect(w.noise, queued)
        w.noised.connect(self.noised, queued)
        w.noise_failed.connect(self.noise_failed, queued)

    # -- life cycle ------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread and load the engine there. Call once the window shows."""
        if self._thread is not None or self._shut_down:
            return
        thread = QThread()
        thread.setObjectName("studio-generation")
        self._worker.moveToThread(thread)
        thread.finished.connect(self._worker.deleteLater)
        self._thread = thread
        thread.start()
        self._warm_up_requested.emit()
        self._dispatch()

    def shutdown(self) -> None:
        """Drop the queue, cancel the running job and join the thread. Safe to call twice."""
        self._shut_down = True
        if self._queue:
            self._queue.clear()
            self.queue_changed.emit()
        if self._current is not None:
            self._current.cancel.cancel()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    # -- queue -----------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> Job:
        """Queue a request; it runs when the ones before it are done."""
        job = Job(next(self._ids), request)
        self._queue.append(job)
        self.queue_changed.emit()
        self._dispatch()
        return job

    @property
    def current(self) -> Job | None:
        return self._current

    @property
    def queued(self) -> list[Job]:
        return list(self._queue)

    @property
    def busy(self) -> bool:
        return self._current is not None

    def remove(self, job_id: int) -> bool:
        before = len(self._queue)
        self._queue = [job for job in self._queue if job.id != job_id]
        if len(self._queue) != before:
            self.queue_changed.emit()
            return True
        return False

    def clear_queue(self) -> None:
        if self._queue:
            self._queue.clear()
            self.queue_changed.emit()

    def cancel_current(self) -> bool:
        """Ask the running job to stop after its current step; the queue goes on."""
        if self._current is None:
            return False
        self._current.cancel.cancel()
        return True

    # -- internals -------------------------------------------------------------------

    def _dispatch(self) -> None:
        if self._current is not None or not self._queue or self._thread is None:
            return
        if self._shut_down:
            return
        self._current = self._queue.pop(0)
        self.queue_changed.emit()
        self.busy_changed.emit(True)
        self._run_requested.emit(self._current.request, self._current.cancel)

    @Slot()
    def _on_preview_ready(self) -> None:
        item = self._worker.previews.take()
        if item is not None:
            self.preview.emit(*item)

    @Slot()
    def _on_worker_idle(self) -> None:
        self._current = None
        if self._queue and not self._shut_down:
            self._dispatch()
        else:
            self.queue_changed.emit()
            self.busy_changed.emit(False)
