"""Events of one run, in order: Started, Step per denoising step, then one outcome.

Torch-free: events carry plain Python, numpy arrays and PIL images, so they can
cross to the GUI thread as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from studio.engine.errors import Cause, Unexpected

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from studio.engine.run.request import GenerationRequest


@dataclass(frozen=True)
class Started:
    request: GenerationRequest  # seed resolved
    total: int
    kind: Literal["started"] = "started"


@dataclass(frozen=True)
class Step:
    """One denoising step done. `preview` is a small HxWx3 uint8 image of the predicted
    clean image x0 (the first of the batch), or None on steps the preview setting skips."""

    index: int  # 1-based
    total: int
    elapsed: float  # seconds since the run started denoising
    preview: np.ndarray | None
    preview_seconds: float = 0.0  # time spent making this preview
    kind: Literal["step"] = "step"


@dataclass(frozen=True)
class Optimizing:
    """The fast path is compiling the model for this run's shapes; the next step waits for it.
    Comes once per model and shape, between Started and the first Step."""

    message: str
    kind: Literal["optimizing"] = "optimizing"


@dataclass(frozen=True)
class Finished:
    request: GenerationRequest
    images: list[Image.Image]
    elapsed: float
    film: list[np.ndarray] = field(default_factory=list)  # the step previews, in order
    notices: tuple[str, ...] = ()  # what the run changed of the request, in words (a size rounded)
    server: str = ""  # the server that made the images; "" for this computer
    kind: Literal["finished"] = "finished"


@dataclass(frozen=True)
class Cancelled:
    request: GenerationRequest
    steps_done: int
    kind: Literal["cancelled"] = "cancelled"


@dataclass(frozen=True)
class Failed:
    """A run that could not finish. `message` says what to do; `details` is for a bug report;
    `cause` says, as a type, what went wrong (decided where the exception was caught)."""

    request: GenerationRequest
    message: str
    details: str = ""
    cause: Cause = field(default_factory=Unexpected)
    kind: Literal["failed"] = "failed"


Event = Started | Step | Optimizing | Finished | Cancelled | Failed
Outcome = Finished | Cancelled | Failed
EventSink = Callable[[Event], None]
