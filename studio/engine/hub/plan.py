"""Planning a download of a diffusers repo from the Hugging Face Hub into the shared cache.

`plan_download` lists the repo and picks the files a text-to-image pipeline needs, so
sizes are known before anything is fetched; `download` (hub_transfer.py) fetches them
with one progress report for the whole repo. Qt-free; huggingface_hub is imported lazily.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.errors import ModelError
from studio.engine.hub.cache import hub_cache_dir, repo_folder
from studio.engine.hub.select import SelectionError, select_files

DEFAULT_ENDPOINT = "https://huggingface.co"
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_URL = re.compile(r"^https?://(?:www\.)?(?:huggingface\.co|hf\.co)/(?P<id>[^/?#]+/[^/?#]+)")


class DownloadError(ModelError):
    """A download that cannot go on; the message says why and what to do."""


class DownloadCancelled(Exception):
    """The user stopped the download; completed and partial files stay for a later resume."""


@dataclass(frozen=True)
class RepoFile:
    path: str
    size: int
    etag: str  # the blob's name in the cache: sha256 for LFS files, else the git blob id
    lfs: bool


@dataclass(frozen=True)
class DownloadPlan:
    """What a download fetches, known before it starts."""

    repo_id: str
    revision: str
    commit: str
    pipeline: str
    files: tuple[RepoFile, ...]
    skipped: tuple[str, ...]
    cache_dir: Path
    endpoint: str

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def repo_dir(self) -> Path:
        return repo_folder(self.cache_dir, self.repo_id)

    @property
    def snapshot_dir(self) -> Path:
        return self.repo_dir / "snapshots" / self.commit

    def blob(self, file: RepoFile) -> Path:
        return self.repo_dir / "blobs" / file.etag

    def partial(self, file: RepoFile) -> Path:
        return self.repo_dir / "blobs" / f"{file.etag}.incomplete"

    def present_bytes(self) -> int:
        """Bytes already on disk: complete files and the kept part of interrupted ones."""
        done = 0
        for file in self.files:
            if _size(self.blob(file)) == file.size:
                done += file.size
            else:
                done += min(max(0, _size(self.partial(file))), file.size)
        return done


@dataclass(frozen=True)
class DownloadProgress:
    """One report for the whole repo."""

    done_bytes: int
    total_bytes: int
    bytes_per_second: float
    eta_seconds: float | None
    current_file: str
    files_done: int
    files_total: int

    @property
    def fraction(self) -> float:
        return self.done_bytes / self.total_bytes if self.total_bytes else 1.0


ProgressSink = Callable[[DownloadProgress], None]


def parse_repo_id(text: str) -> str:
    """"org/name" from what a person typed: the id itself or a huggingface.co address."""
    text = text.strip()
    match = _HUB_URL.match(text)
    if match:
        text = match["id"]
    if not _REPO_ID.match(text) or "--" in text or ".." in text:
        raise DownloadError(
            f"{text!r} is not a Hugging Face repo id. Write it as owner/name, for example "
            "stabilityai/sdxl-turbo."
        )
    return text


def hub_endpoint(endpoint: str | None = None) -> str:
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def plan_download(
    repo_id: str,
    *,
    revision: str | None = None,
    cache_dir: Path | None = None,
    endpoint: str | None = None,
    token: str | None = None,
) -> DownloadPlan:
    """List the repo and choose its files; raises DownloadError with a reason a person reads."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile as HubFile

    repo_id = parse_repo_id(repo_id)
    endpoint = hub_endpoint(endpoint)
    cache_dir = cache_dir or hub_cache_dir()
    api = HfApi(endpoint=endpoint, token=token)
    with hub_errors(repo_id, endpoint):
        info = api.model_info(repo_id, revision=revision, timeout=30)
        commit = str(info.sha)
        tree = [
            f
            for f in api.list_repo_tree(repo_id, revision=commit, recursive=True)
            if isinstance(f, HubFile)
        ]
    files = {
        f.path: RepoFile(f.path, int(f.size), f.lfs.sha256 if f.lfs else str(f.blob_id), bool(f.lfs))
        for f in tree
    }
    if "model_index.json" not in files:
        raise DownloadError(
            f"{repo_id} is not a diffusers pipeline: it has no model_index.json. If it holds a "
            "single .safetensors checkpoint, download that file and add it as a checkpoint."
        )
    plan = DownloadPlan(repo_id, revision or "main", commit, "", (), (), cache_dir, endpoint)
    index = _model_index(plan, files["model_index.json"], token)
    pipeline = str(index.get("_class_name", ""))
    from studio.engine.loading.pipelines import RUNNABLE_PIPELINES

    if pipeline not in RUNNABLE_PIPELINES:
        raise DownloadError(
            f"{repo_id} is a {pipeline or 'unknown'} model; Studio runs these "
            f"pipelines: {', '.join(RUNNABLE_PIPELINES)}."
        )
    try:
        selection = select_files(files, index)
    except SelectionError as error:
        raise DownloadError(f"{repo_id}: {error}") from None
    return DownloadPlan(
        repo_id=repo_id,
        revision=revision or "main",
        commit=commit,
        pipeline=pipeline,
        files=tuple(files[p] for p in selection.keep),
        skipped=selection.skipped,
        cache_dir=cache_dir,
        endpoint=endpoint,
    )


def check_free_space(
    plan: DownloadPlan, free_bytes: Callable[[Path], int] | None = None
) -> None:
    """Raise DownloadError when the rest of the download does not fit on the disk."""
    needed = plan.total_bytes - plan.present_bytes()
    where = _existing_parent(plan.cache_dir)
    free = (free_bytes or _free_bytes)(where)
    if needed > free:
        raise DownloadError(
            f"Not enough disk space for {plan.repo_id}: it needs {format_bytes(needed)} more, but "
            f"only {format_bytes(free)} is free on the disk that holds {plan.cache_dir}. Free some "
            "space, or point HF_HOME at a larger disk, and download again."
        )


def format_bytes(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


@contextlib.contextmanager
def hub_errors(repo_id: str, endpoint: str) -> Iterator[None]:
    """Turn huggingface_hub and network errors into DownloadError with a message a person reads."""
    import httpx2
    from huggingface_hub import errors

    try:
        yield
    except errors.OfflineModeIsEnabled:
        raise DownloadError(
            "Downloads are switched off: HF_HUB_OFFLINE is set. Unset it to download models."
        ) from None
    except errors.GatedRepoError:
        raise DownloadError(
            f"{repo_id} is gated: accept its terms on {endpoint}/{repo_id} and log in with "
            "`hf auth login`, then download again."
        ) from None
    except errors.RepositoryNotFoundError:
        raise DownloadError(
            f"There is no model {repo_id} on {endpoint}. Check the spelling; a private model "
            "needs `hf auth login` first."
        ) from None
    except errors.RevisionNotFoundError:
        raise DownloadError(f"{repo_id} has no such revision (branch, tag or commit).") from None
    except errors.RemoteEntryNotFoundError as error:
        raise DownloadError(
            f"A file of {repo_id} is missing on the server ({_first_line(error)}). The repo may "
            "have changed: download again."
        ) from None
    except errors.HFValidationError as error:
        raise DownloadError(f"{repo_id!r} is not a valid repo id: {error}") from None
    except errors.HfHubHTTPError as error:
        raise DownloadError(f"The Hub refused the request: {_first_line(error)}") from None
    except (httpx2.TransportError, ConnectionError, TimeoutError) as error:
        raise DownloadError(
            f"Could not reach {endpoint} ({type(error).__name__}). Check the internet "
            "connection and download again; finished files are kept."
        ) from None


def _model_index(plan: DownloadPlan, file: RepoFile, token: str | None) -> dict[str, Any]:
    import json

    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    blob = plan.blob(file)
    if _size(blob) == file.size:
        data = blob.read_bytes()
    else:
        url = hf_hub_url(plan.repo_id, file.path, revision=plan.commit, endpoint=plan.endpoint)
        with hub_errors(plan.repo_id, plan.endpoint):
            response = get_session().get(url, headers=build_hf_headers(token=token), timeout=30)
            hf_raise_for_status(response)
            data = response.content
    try:
        index = json.loads(data)
    except ValueError:
        index = None
    if not isinstance(index, dict):
        raise DownloadError(f"The model_index.json of {plan.repo_id} is damaged.")
    return index


def _free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def _existing_parent(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _first_line(error: BaseException) -> str:
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__
