"""Fetching a planned repo into the Hugging Face cache, resumable across calls.

huggingface_hub retries within one call but deletes a partial file when the call ends,
so an interrupted multi-GB file starts over. Here each file streams into
`blobs/<etag>.incomplete`, which survives a cancel, a dropped connection or a restart;
the next attempt asks for the rest with an HTTP Range. A finished file is checked against
the hub's hash before it is renamed into place, in the layout other tools share.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from studio.config.atomic import write_atomic
from studio.engine.hub.plan import (
    DownloadCancelled,
    DownloadError,
    DownloadPlan,
    DownloadProgress,
    ProgressSink,
    RepoFile,
    check_free_space,
    hub_errors,
)
from studio.engine.run.cancel import CancelToken

CHUNK_BYTES = 1 << 20
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0)
REPORT_EVERY_S = 0.1
SPEED_WINDOW_S = 5.0


def download(
    plan: DownloadPlan,
    on_progress: ProgressSink | None = None,
    cancel: CancelToken | None = None,
    *,
    token: str | None = None,
    free_bytes: Callable[[Path], int] | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    retry_delays: Sequence[float] = RETRY_DELAYS,
    report_every_s: float = REPORT_EVERY_S,
) -> Path:
    """Fetch what `plan` lists and return the snapshot folder.

    Raises DownloadCancelled when `cancel` is set and DownloadError for anything a person
    must act on; in both cases finished files and the part of the current one stay.
    """
    check_free_space(plan, free_bytes)
    progress = _Progress(plan, on_progress, report_every_s)
    transfer = _Transfer(plan, progress, cancel or CancelToken(), token, chunk_bytes,
                         tuple(retry_delays))
    transfer.run()
    return plan.snapshot_dir


class _Progress:
    def __init__(self, plan: DownloadPlan, sink: ProgressSink | None, every_s: float) -> None:
        self._sink = sink
        self._every_s = every_s
        self.total = plan.total_bytes
        self.done = plan.present_bytes()
        self.files_total = len(plan.files)
        self.files_done = 0
        self.file = ""
        self._samples: deque[tuple[float, int]] = deque()
        self._moved = 0  # bytes moved over the network in this call
        self._last_report = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        self._moved += count
        self.report(force=False)

    def rewind(self, count: int) -> None:
        """The server ignored a Range request: the kept part of the file is gone."""
        self.done -= count

    def report(self, *, force: bool) -> None:
        now = time.monotonic()
        self._samples.append((now, self._moved))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()
        if self._sink is None or (not force and now - self._last_report < self._every_s):
            return
        self._last_report = now
        start_t, start_bytes = self._samples[0]
        elapsed = now - start_t
        speed = (self._moved - start_bytes) / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = left / speed if speed > 0 else (0.0 if left <= 0 else None)
        self._sink(DownloadProgress(
            self.done, self.total, speed, eta, self.file, self.files_done, self.files_total
        ))


class _Transfer:
    def __init__(
        self,
        plan: DownloadPlan,
        progress: _Progress,
        cancel: CancelToken,
        token: str | None,
        chunk_bytes: int,
        retry_delays: tuple[float, ...],
    ) -> None:
        self.plan = plan
        self.cancel = cancel
        self.token = token
        self.chunk_bytes = chunk_bytes
        self.retry_delays = retry_delays
        self.progress = progress

    def run(self) -> None:
        from huggingface_hub.utils import WeakFileLock

        blobs = self.plan.repo_dir / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        locks = self.plan.cache_dir / ".locks" / self.plan.repo_dir.name
        locks.mkdir(parents=True, exist_ok=True)
        self.progress.report(force=True)
        for file in self.plan.files:
            self._check_cancel()
            self.progress.file = file.path
            if not self._complete(file):
                with WeakFileLock(locks / f"{file.etag}.lock"):
                    if not self._complete(file):
                        self._fetch(file)
            _link(self.plan.blob(file), self.plan.snapshot_dir / file.path)
            self.progress.files_done += 1
            self.progress.report(force=True)
        self._write_ref()

    def _complete(self, file: RepoFile) -> bool:
        blob = self.plan.blob(file)
        return blob.is_file() and blob.stat().st_size == file.size

    def _check_cancel(self) -> None:
        if self.cancel.cancelled:
            raise DownloadCancelled(f"The download of {self.plan.repo_id} was stopped.")

    def _fetch(self, file: RepoFile) -> None:
        partial = self.plan.partial(file)
        failures = 0
        while True:
            kept = partial.stat().st_size if partial.exists() else 0
            if kept > file.size:  # not this file's bytes: start over
                partial.write_bytes(b"")
                self.progress.rewind(file.size)
                kept = 0
            try:
                self._stream(file, partial, kept)
                break
            except _Broken as broken:
                grew = (partial.stat().st_size if partial.exists() else 0) > kept
                failures = 0 if grew else failures + 1
                if failures > len(self.retry_delays):
                    raise DownloadError(
                        f"The connection broke while downloading {file.path} of "
                        f"{self.plan.repo_id} ({broken}) and did not come back. What arrived is "
                        "kept: download again to resume."
                    ) from None
                self._sleep(self.retry_delays[failures - 1] if failures else 0.0)
        self._verify(file, partial)
        os.replace(partial, self.plan.blob(file))

    def _stream(self, file: RepoFile, partial: Path, kept: int) -> None:
        import httpx2
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers

        if kept == file.size:
            return
        url = hf_hub_url(self.plan.repo_id, file.path, revision=self.plan.commit,
                         endpoint=self.plan.endpoint)
        headers = build_hf_headers(token=self.token)
        if kept:
            headers["Range"] = f"bytes={kept}-"
        timeout = httpx2.Timeout(60.0, connect=20.0)
        with hub_errors(self.plan.repo_id, self.plan.endpoint):
            self._get(url, headers, timeout, partial, kept)
        if partial.stat().st_size < file.size:
            raise _Broken("the file ended early")

    def _get(self, url: str, headers: dict[str, str], timeout: object, partial: Path,
             kept: int) -> None:
        import httpx2
        from huggingface_hub.utils import get_session, hf_raise_for_status

        try:
            with get_session().stream("GET", url, headers=headers, timeout=timeout) as response:
                hf_raise_for_status(response)
                if kept and response.status_code != 206:
                    self.progress.rewind(kept)  # no ranges here: the whole file comes again
                    kept = 0
                with partial.open("ab" if kept else "wb") as out:
                    for chunk in response.iter_bytes(self.chunk_bytes):
                        self._check_cancel()
                        out.write(chunk)
                        self.progress.advance(len(chunk))
                    out.flush()
                    os.fsync(out.fileno())
        except httpx2.TransportError as error:
            raise _Broken(type(error).__name__) from None
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise DownloadError(
                    f"The disk filled up while downloading {self.plan.repo_id}. Free some space "
                    "and download again: what arrived is kept."
                ) from None
            raise

    def _verify(self, file: RepoFile, partial: Path) -> None:
        digest = hashlib.sha256() if file.lfs else hashlib.sha1()
        if not file.lfs:
            digest.update(f"blob {file.size}\0".encode())
        with partial.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        if digest.hexdigest() != file.etag:
            partial.unlink()  # our own partial file, not the user's data
            raise DownloadError(
                f"{file.path} of {self.plan.repo_id} arrived damaged (its checksum does not "
                "match). Download again."
            )

    def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._check_cancel()
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))
        self._check_cancel()

    def _write_ref(self) -> None:
        if self.plan.revision == self.plan.commit:
            return
        ref = self.plan.repo_dir / "refs" / self.plan.revision
        write_atomic(ref, self.plan.commit)


class _Broken(Exception):
    """The connection ended before the file did; worth another try."""


def _link(blob: Path, target: Path) -> None:
    """Put the blob at its snapshot path: a relative symlink, as huggingface_hub does."""
    if target.is_file():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():  # a dangling link from an earlier, damaged download
        target.unlink()
    try:
        os.symlink(os.path.relpath(blob, target.parent), target)
    except OSError:  # no symlinks (Windows without developer mode): a copy works too
        try:
            os.link(blob, target)
        except OSError:
            shutil.copy2(blob, target)
