"""A repo download on a worker thread, reported by signals; and its progress in words."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from studio.engine.errors import ModelError
from studio.engine.hub.plan import DownloadCancelled, DownloadProgress, format_bytes
from studio.engine.run.cancel import CancelToken


class DownloadWorker(QObject):
    """Plans and runs one repo download on a worker thread.

    Signals:
        planned(object): the DownloadPlan, sizes known, before any weights move.
        progress(object): a DownloadProgress for the whole repo.
        finished(str, str): repo id, snapshot folder.
        cancelled(str): repo id; what arrived is kept for a resume.
        failed(str): a message a person can act on.
    """

    planned = Signal(object)
    progress = Signal(object)
    finished = Signal(str, str)
    cancelled = Signal(str)
    failed = Signal(str)

    def __init__(self, cancel: CancelToken) -> None:
        super().__init__()
        self._cancel = cancel

    @Slot(str)
    def run(self, repo_id: str) -> None:
        from studio.engine.hub.plan import plan_download
        from studio.engine.hub.transfer import download

        try:
            plan = plan_download(repo_id)
            self.planned.emit(plan)
            snapshot = download(plan, self.progress.emit, self._cancel)
        except DownloadCancelled:
            self.cancelled.emit(repo_id)
        except ModelError as error:
            self.failed.emit(str(error))
        except Exception as error:  # an unexpected failure still reaches the person
            self.failed.emit(f"The download failed: {type(error).__name__}: {error}")
        else:
            self.finished.emit(plan.repo_id, str(snapshot))


def describe_progress(progress: DownloadProgress) -> str:
    parts = [f"{format_bytes(progress.done_bytes)} of {format_bytes(progress.total_bytes)}"]
    if progress.bytes_per_second > 0:
        parts.append(f"{format_bytes(progress.bytes_per_second)}/s")
    if progress.eta_seconds is not None and progress.done_bytes < progress.total_bytes:
        parts.append(f"{format_duration(progress.eta_seconds)} left")
    parts.append(f"file {min(progress.files_done + 1, progress.files_total)} of "
                 f"{progress.files_total}")
    return " · ".join(parts)


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
