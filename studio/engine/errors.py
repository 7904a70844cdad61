"""Errors a person can act on, and the typed cause a failed run carries to whoever shows it.

A cause is decided where the exception is caught and travels as a type: no layer above
parses message text to find out what went wrong.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass


class ModelError(Exception):
    """A model that cannot be used; the message names what is wrong and what to do."""


OOM_ADVICE = (
    "The device ran out of memory. Try a smaller image size or batch, close other programs "
    "that use the GPU, or turn on the memory-saving options (attention slicing, VAE tiling, "
    "CPU offload)."
)


@dataclass(frozen=True)
class PickleNeedsConsent:
    """The run needs a pickle checkpoint the person has not allowed; ask about `path`."""

    path: str


@dataclass(frozen=True)
class OutOfMemory:
    """The device (or the computer, when `device_memory` is False) ran out of memory."""

    device_memory: bool = True


@dataclass(frozen=True)
class ModelProblem:
    """The model could not be found, read or loaded; the message says which and why."""

    model: str = ""


@dataclass(frozen=True)
class InvalidParameters:
    """The request has values that cannot run; `fields` names the controls at fault."""

    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceProblem:
    """The chosen device does not exist or cannot be used here."""

    device: str = ""


@dataclass(frozen=True)
class EngineUnavailable:
    """The engine itself did not start, so nothing can run."""


@dataclass(frozen=True)
class ServerUnavailable:
    """A remote engine that could not take or finish the run: `reason` is "unreachable",
    "token" (refused), "version" (another protocol), "lost" (the connection broke mid-run)
    or "engine" (its replica stopped); `url` names the server."""

    url: str = ""
    reason: str = "unreachable"


@dataclass(frozen=True)
class Unexpected:
    """A failure Studio has no words for: a bug here or in a library. `details` has the trace."""

    error_type: str = ""


Cause = (
    PickleNeedsConsent
    | OutOfMemory
    | ModelProblem
    | InvalidParameters
    | DeviceProblem
    | EngineUnavailable
    | ServerUnavailable
    | Unexpected
)


class DeviceError(Exception):
    """A device that cannot be used; the message says why and what to choose instead."""

    def __init__(self, message: str, device: str) -> None:
        super().__init__(message)
        self.device = device


def is_out_of_memory(error: BaseException) -> bool:
    """Whether a device ran out of memory, decided here, where the exception is caught.

    CUDA raises its own type; MPS and some CPU allocators raise a plain RuntimeError whose
    text is the only sign, so that text is read once, here, and never again above."""
    name = type(error).__name__
    text = str(error).lower()
    return name == "OutOfMemoryError" or "out of memory" in text or "mps backend out of memory" in text


def details_of(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def describe_failure(error: BaseException, model: str = "") -> tuple[str, str, Cause]:
    """(message for a person, details for a bug report, typed cause) for a run's exception."""
    from studio.engine.catalogue.checkpoints import PickleRefused
    from studio.engine.run.request import InvalidRequest

    details = details_of(error)
    if isinstance(error, PickleRefused):
        return str(error), details, PickleNeedsConsent(str(error.path))
    if isinstance(error, ModelError):
        return str(error), details, ModelProblem(model)
    if isinstance(error, InvalidRequest):
        return " ".join(error.problems), details, InvalidParameters(error.fields)
    if isinstance(error, DeviceError):
        return str(error), details, DeviceProblem(error.device)
    if is_out_of_memory(error):
        return OOM_ADVICE, details, OutOfMemory(device_memory=True)
    if isinstance(error, MemoryError):
        return "The computer ran out of memory. " + OOM_ADVICE.split(". ", 1)[1], details, OutOfMemory(False)
    message = (
        f"Generation stopped on an unexpected error ({type(error).__name__}). This is a bug in "
        "Studio or a library it uses; the details hold the report to send."
    )
    return message, details, Unexpected(type(error).__name__)
