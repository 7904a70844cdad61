"""The events that cross from the worker thread to the GUI thread, all on one signal.

The engine's own events (Started, Step, Finished, Cancelled, Failed) travel as they are,
inside a `JobEvent` that says which job they belong to; the worker adds the few that only
the desktop has (the engine loaded, an image saved or not, a noised picture). Views match
on the type; nothing is flattened into positional arguments or strings on the way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.engine.run.events import Event

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class EngineReady:
    device: str  # in words, e.g. "cpu" or "cuda"


@dataclass(frozen=True)
class EngineFailed:
    """The engine could not start; every run fails with this until the app restarts."""

    message: str
    details: str = ""


@dataclass(frozen=True)
class Saved:
    """One image of a finished job was written. `metadata` is what its file says, so the
    gallery can index it without reading the file back."""

    path: str
    metadata: Any  # studio.library.metadata.ImageMetadata
    number: int = 0  # the image's place in its batch


@dataclass(frozen=True)
class SaveFailed:
    """An image could not be written. It is kept, as `image`, to be saved elsewhere."""

    message: str
    image: Any  # PIL image
    request: Any  # the image's own GenerationRequest (its seed)
    number: int = 0


@dataclass(frozen=True)
class Delivered:
    """Every image of a finished job has been offered to the disk: the job is done.
    `arrays` are HxWx3 uint8, `paths` the saved files ("" where saving failed)."""

    arrays: list[np.ndarray] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    elapsed: float = 0.0


@dataclass(frozen=True)
class Noised:
    path: str
    fraction: float
    picture: Any  # HxWx3 uint8


@dataclass(frozen=True)
class NoiseFailed:
    message: str


@dataclass(frozen=True)
class StepsWaiting:
    """A newer step waits in the worker's latest-wins mailbox; take it on the GUI thread."""


@dataclass(frozen=True)
class UpscaleProgress:
    """`done` of `total` tiles of `source` are upscaled."""

    source: str
    done: int
    total: int


@dataclass(frozen=True)
class Upscaled:
    """`source`'s larger copy is saved at `path` (a Saved event for the gallery follows)."""

    source: str
    path: str


@dataclass(frozen=True)
class UpscaleFailed:
    """`source` could not be upscaled; `message` says why, in words (cancelled says so too)."""

    source: str
    message: str
    cancelled: bool = False


@dataclass(frozen=True)
class Idle:
    """The worker finished with a job, whatever its outcome, and can take the next."""


WorkerEvent = (
    EngineReady | EngineFailed | Saved | SaveFailed | Delivered | Noised | NoiseFailed | StepsWaiting | Idle
    | UpscaleProgress | Upscaled | UpscaleFailed
)


@dataclass(frozen=True)
class JobEvent:
    """An event about job `job` (0 for events about no job, like EngineReady)."""

    job: int
    event: Event | WorkerEvent


@dataclass(frozen=True)
class Notice:
    """Something the person should read once (e.g. the queue could not be written)."""

    message: str


@dataclass(frozen=True)
class ServerWaiting:
    """Runs go to a server that cannot take them now (down, or refusing the token): the job
    went back to the queue, which waits. Studio tries again in `retry_in` seconds, or, when 0,
    once the engine settings change."""

    message: str
    cause: Any  # studio.engine.errors.ServerUnavailable
    waiting: int  # jobs in the queue, the one put back included
    retry_in: float
