"""Errors a person can act on, and the translation of everything else into one."""

from __future__ import annotations

import traceback


class ModelError(Exception):
    """A model that cannot be used; the message names what is wrong and what to do."""


OOM_ADVICE = (
    "The device ran out of memory. Try a smaller image size or batch, close other programs "
    "that use the GPU, or turn on the memory-saving options (attention slicing, VAE tiling, "
    "CPU offload)."
)


def is_out_of_memory(error: BaseException) -> bool:
    name = type(error).__name__
    text = str(error).lower()
    return name == "OutOfMemoryError" or "out of memory" in text or "mps backend out of memory" in text


def describe_failure(error: BaseException) -> tuple[str, str]:
    """(message for a person, details for a bug report) for an exception raised by a run."""
    details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    if isinstance(error, ModelError):
        return str(error), details
    if is_out_of_memory(error):
        return OOM_ADVICE, details
    if isinstance(error, MemoryError):
        return "The computer ran out of memory. " + OOM_ADVICE.split(". ", 1)[1], details
    return f"Generation failed: {type(error).__name__}: {error}", details
