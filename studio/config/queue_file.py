"""The job queue on disk: the jobs waiting and the one running, so that a quit, a crash or a
kill -9 loses none of them.

Qt-free and engine-free: a job is stored as its id, state and the request as a plain dict;
the UI turns them back into requests and says what it could not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.config.atomic import write_atomic
from studio.config.stored_json import load_json, move_aside

QUEUE_VERSION = 1
MAX_JOBS = 10_000  # a queue longer than this is not one Studio wrote
STORED_STATES = ("queued", "running", "interrupted", "failed")


@dataclass(frozen=True)
class StoredJob:
    id: int
    state: str  # one of STORED_STATES; "running" means the app stopped during the run
    request: dict[str, Any]
    message: str = ""  # why it failed or was interrupted


@dataclass
class LoadedQueue:
    jobs: list[StoredJob] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def save_queue(path: Path, jobs: list[StoredJob]) -> None:
    """Write the queue atomically; raises SaveError (an OSError) when the disk refuses."""
    data = {
        "version": QUEUE_VERSION,
        "jobs": [
            {"id": job.id, "state": job.state, "request": job.request, "message": job.message}
            for job in jobs
        ],
    }
    write_atomic(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")


def load_queue(path: Path) -> LoadedQueue:
    """The stored jobs; none when there is no file. A file that cannot be read is moved aside
    with a dated name and the notes say so; entries that cannot be read are skipped and counted."""
    loaded = load_json(path, "The saved queue")
    if loaded.data is None:
        return LoadedQueue([], loaded.notes)
    data = loaded.data
    raw = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(raw, list) or len(raw) > MAX_JOBS:
        aside = move_aside(path)
        return LoadedQueue([], [f"The saved queue is not a list of jobs Studio wrote; it was kept as {aside.name}."])
    version = data.get("version")
    notes: list[str] = []
    if isinstance(version, int) and not isinstance(version, bool) and version > QUEUE_VERSION:
        notes.append("The saved queue was written by a newer Studio; the jobs this version understands are shown.")
    jobs: list[StoredJob] = []
    skipped = 0
    seen: set[int] = set()
    for entry in raw:
        job = _job(entry)
        if job is None or job.id in seen:
            skipped += 1
            continue
        seen.add(job.id)
        jobs.append(job)
    if skipped:
        notes.append(f"{skipped} saved job{'s' if skipped != 1 else ''} could not be read and "
                     f"{'were' if skipped != 1 else 'was'} left out.")
    return LoadedQueue(jobs, notes)


def _job(entry: object) -> StoredJob | None:
    if not isinstance(entry, dict):
        return None
    job_id, state, request = entry.get("id"), entry.get("state"), entry.get("request")
    if not isinstance(job_id, int) or isinstance(job_id, bool) or not 0 < job_id < 2**53:
        return None
    if state not in STORED_STATES or not isinstance(request, dict):
        return None
    message = entry.get("message", "")
    return StoredJob(job_id, str(state), request, message if isinstance(message, str) else "")
