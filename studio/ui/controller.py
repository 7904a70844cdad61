"""The job queue and the worker thread, seen from the GUI thread.

The controller owns the job model, feeds waiting jobs to the worker one at a time, applies
each event from the worker to the model in one place, and keeps the queue on disk as it
changes, so that a quit, a crash or a kill -9 loses no job.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from studio.config.queue_file import StoredJob, load_queue, save_queue
from studio.engine.errors import ServerUnavailable
from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Failed, Started
from studio.engine.run.request import GenerationRequest
from studio.ui.events import EngineFailed, EngineReady, Idle, JobEvent, Notice, ServerWaiting, StepsWaiting
from studio.ui.jobs import Job, JobModel, JobState
from studio.ui.worker import EngineFactory, GenerationWorker, ImageSaver

log = logging.getLogger(__name__)

INTERRUPTED = "Studio stopped while this job ran."
SERVER_RETRY_MS = 5000  # how often a queue waiting for its server tries again
# a server that did not take the run: the job waits; "lost" and "engine" fail the job instead
WAIT_FOR_SERVER = ("unreachable", "token", "version")


class GenerationController(QObject):
    """Queues jobs and runs them, one at a time, on the worker thread.

    Signals:
        event(object): every JobEvent from the worker (see studio.ui.events), after the job
            model has applied it, plus Notice events of the controller's own.
    """

    event = Signal(object)

    _warm_up_requested = Signal()
    _run_requested = Signal(int, object, object)
    _noise_requested = Signal(str, float)
    _prepare_requested = Signal(object)
    _upscale_requested = Signal(str, float, str, str, object)
    _switch_requested = Signal()

    def __init__(
        self,
        make_engine: EngineFactory,
        save_image: ImageSaver,
        parent: QObject | None = None,
        *,
        queue_file: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.jobs = JobModel(self)
        self._thread: QThread | None = None
        self._worker = GenerationWorker(make_engine, save_image)
        self._shut_down = False
        self._busy = False
        self.engine_ready = False
        self.engine_error: EngineFailed | None = None
        self._queue_file = queue_file
        self._save_pending = False
        self._save_failed_told = False
        self._ahead: GenerationRequest | None = None  # to prepare once the worker is idle
        self._ahead_sent: tuple[object, ...] | None = None
        self._ahead_last: GenerationRequest | None = None
        self._started: int | None = None  # the running job, once its run has started
        self.server_retry_ms = SERVER_RETRY_MS
        self.waiting_for_server: ServerWaiting | None = None  # the queue holds while set
        self._server_retry = QTimer(self)
        self._server_retry.setSingleShot(True)
        self._server_retry.timeout.connect(self._try_server_again)

        w, queued = self._worker, Qt.ConnectionType.QueuedConnection
        self._warm_up_requested.connect(w.warm_up, queued)
        self._run_requested.connect(w.run, queued)
        self._noise_requested.connect(w.noise, queued)
        self._prepare_requested.connect(w.prepare, queued)
        self._upscale_requested.connect(w.upscale, queued)
        self._switch_requested.connect(w.switch_engine, queued)
        w.event.connect(self._on_worker_event, queued)
        self.jobs.stored_changed.connect(self._schedule_save)

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
        self._send_ahead()

    def switch_engine(self) -> None:
        """Build the engine again from the factory (Settings → Engine changed where runs go);
        the run in progress finishes first, and a queue that waited for a server goes on."""
        if self._thread is None or self._shut_down:
            return
        self.engine_ready = False
        self._switch_requested.emit()
        self._ahead_sent = None  # the new engine has prepared nothing yet
        self._try_server_again()

    def resume_waiting(self) -> None:
        """The server answered again (a Connect, the status bar's look): a queue that waited for
        it goes on now rather than at its next try."""
        if self.waiting_for_server is not None and not self._shut_down:
            self._try_server_again()

    def shutdown(self) -> None:
        """Cancel the running job, join the thread and write the queue. Safe to call twice.

        Waiting jobs stay in the stored queue, and a job cut short by the shutdown is stored
        as interrupted, so the next start offers them again."""
        if self._shut_down:
            return
        self._shut_down = True
        self._server_retry.stop()
        running = self.jobs.running
        if running is not None:
            running.cancel.cancel()
        if self._thread is not None:
            self._thread.quit()
            self._thread.wait()
            self._thread = None
        self._save_now(interrupted=running.id if running is not None else None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    # -- the queue -------------------------------------------------------------------

    def submit(self, request: GenerationRequest) -> Job:
        """Queue a request; it runs when the ones before it are done."""
        job = self.jobs.add(request)
        self._dispatch()
        return job

    @property
    def current(self) -> Job | None:
        return self.jobs.running

    @property
    def queued(self) -> list[Job]:
        return self.jobs.jobs(JobState.QUEUED)

    @property
    def busy(self) -> bool:
        return self._busy

    def remove(self, job_id: int) -> bool:
        return self.jobs.remove(job_id)

    def move(self, job_id: int, delta: int) -> bool:
        return self.jobs.move(job_id, delta)

    def duplicate(self, job_id: int) -> Job | None:
        job = self.jobs.duplicate(job_id)
        self._dispatch()
        return job

    def retry(self, job_id: int) -> Job | None:
        job = self.jobs.retry(job_id)
        self._dispatch()
        return job

    def clear_queue(self) -> None:
        self.jobs.remove_waiting()

    def cancel_current(self) -> bool:
        """Ask the running job to stop after its current step; the queue goes on."""
        job = self.jobs.running
        if job is None:
            return False
        job.cancel.cancel()
        return True

    def prepare(self, request: GenerationRequest) -> None:
        """Have the worker do ahead what a run of `request` does first (its model loaded, its
        prompt encoded), once it is idle; a newer request replaces one not yet sent."""
        self._ahead = request
        self._send_ahead()

    def _send_ahead(self) -> None:
        request = self._ahead
        if request is None or self._busy or self._thread is None or self._shut_down:
            return
        self._ahead = None
        # what the work ahead depends on; the seed, steps or guidance scale change nothing there
        key = (request.model, request.prompt, request.negative_prompt, request.guidance > 1,
               request.width, request.height)
        if key != self._ahead_sent:
            self._ahead_sent, self._ahead_last = key, request
            self._prepare_requested.emit(request)

    def _prepare_again(self) -> None:
        # a run uses up what was built for it (its scheduler): build it again for the next one
        if self._ahead is None and self._ahead_last is not None:
            self._ahead, self._ahead_sent = self._ahead_last, None
        self._send_ahead()

    def request_noise(self, path: str, fraction: float) -> None:
        """Ask the worker for `path` noised to `fraction`; answered by a Noised event."""
        self._noise_requested.emit(path, fraction)

    def request_upscale(self, source: str, scale: float, upscaler: str, folder: Path) -> CancelToken:
        """Ask the worker for a copy of `source` `scale` times larger, saved into `folder`
        (after the run in progress); answered by UpscaleProgress, then Upscaled or UpscaleFailed.
        The token cancels it between two tiles."""
        cancel = CancelToken()
        self._upscale_requested.emit(source, float(scale), upscaler, str(folder), cancel)
        return cancel

    # -- what the last session left ------------------------------------------------------

    def restore(self) -> list[str]:
        """Load the stored queue: waiting jobs come back held (run them with `run_restored`),
        a job that was running comes back interrupted. Returns notes for the person."""
        if self._queue_file is None:
            return []
        loaded = load_queue(self._queue_file)
        notes = list(loaded.notes)
        unreadable = 0
        for stored in loaded.jobs:
            try:
                request = GenerationRequest.from_dict(stored.request)
            except (TypeError, ValueError):
                unreadable += 1
                continue
            if stored.state in ("queued",):
                self.jobs.add(request, job_id=stored.id, restored=True)
            elif stored.state in ("running", "interrupted"):
                self.jobs.add(request, job_id=stored.id, state=JobState.INTERRUPTED,
                              message=stored.message or INTERRUPTED)
        if unreadable:
            notes.append(f"{unreadable} saved job{'s' if unreadable != 1 else ''} could not be read and "
                         f"{'were' if unreadable != 1 else 'was'} left out.")
        return notes

    @property
    def restored(self) -> list[Job]:
        return [job for job in self.jobs.jobs(JobState.QUEUED) if job.restored]

    def run_restored(self) -> int:
        count = self.jobs.release_restored()
        self._dispatch()
        return count

    def discard_restored(self) -> int:
        return self.jobs.remove_waiting(restored_only=True)

    # -- internals -------------------------------------------------------------------

    def _dispatch(self) -> None:
        if self._busy or self._thread is None or self._shut_down or self.waiting_for_server is not None:
            return
        job = self.jobs.next_waiting()
        if job is None:
            return
        if job.cancel.cancelled:
            job.cancel = CancelToken()
        self._busy = True
        self._started = None
        self.jobs.set_running(job)
        self._run_requested.emit(job.id, job.request, job.cancel)

    @Slot(object)
    def _on_worker_event(self, event: JobEvent) -> None:
        if isinstance(event.event, StepsWaiting):
            newest = self._worker.steps.take()
            if newest is None:
                return
            event = newest
        match event.event:
            case EngineReady():
                self.engine_ready, self.engine_error = True, None
            case EngineFailed() as failed:
                self.engine_error = failed
            case Started():
                self._started = event.job
            case Failed(cause=ServerUnavailable(reason=reason)) if (
                    reason in WAIT_FOR_SERVER and self._started != event.job):
                event = self._wait_for_server(event)
        if isinstance(event.event, Idle):  # the next job starts before anyone hears of the idle
            self._busy = False
            self._dispatch()
            self._prepare_again()
        self.jobs.apply(event)
        self.event.emit(event)

    def _wait_for_server(self, event: JobEvent) -> JobEvent:
        """The server did not take the job: it goes back to the queue, which waits, instead of
        failing (and the jobs behind it after it)."""
        assert isinstance(event.event, Failed)
        job = self.jobs.get(event.job)
        if job is not None:
            self.jobs.wait_again(job)
        cause = event.event.cause
        retry = self.server_retry_ms if getattr(cause, "reason", "") == "unreachable" else 0
        waiting = len(self.jobs.jobs(JobState.QUEUED))
        then = (f"Studio tries again every {retry / 1000:g} s" if retry
                else "They run once Settings → Engine is put right")
        message = (f"{event.event.message} The queue waits: {waiting} job{'s' if waiting != 1 else ''} "
                   f"kept. {then}.")
        self.waiting_for_server = ServerWaiting(message, cause, waiting, retry / 1000)
        if retry:
            self._server_retry.start(retry)
        return JobEvent(event.job, self.waiting_for_server)

    @Slot()
    def _try_server_again(self) -> None:
        self._server_retry.stop()
        self.waiting_for_server = None
        self._dispatch()

    @Slot()
    def _schedule_save(self) -> None:
        # Changes arrive in bursts (a thousand jobs queued, a batch started): write once per turn.
        if self._queue_file is None or self._save_pending or self._shut_down:
            return
        self._save_pending = True
        QTimer.singleShot(0, self._save_now)

    def _save_now(self, interrupted: int | None = None) -> None:
        self._save_pending = False
        if self._queue_file is None:
            return
        stored: list[StoredJob] = []
        for job in self.jobs.jobs(JobState.QUEUED, JobState.RUNNING, JobState.INTERRUPTED):
            state = job.state.value
            message = job.message
            if job.id == interrupted or (job.state is JobState.RUNNING and self._shut_down):
                state, message = "interrupted", INTERRUPTED
            stored.append(StoredJob(job.id, state, job.request.to_dict(), message))
        try:
            save_queue(self._queue_file, stored)
        except OSError as error:
            log.warning("The queue could not be saved: %s", error)
            if not self._save_failed_told:
                self._save_failed_told = True
                self.event.emit(JobEvent(0, Notice(f"The queue could not be kept on disk: {error}")))
        else:
            self._save_failed_told = False

