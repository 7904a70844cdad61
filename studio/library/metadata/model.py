"""What an image's metadata says, in one shape whichever tool wrote it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.engine.run.request import DEFAULT_MODEL, GenerationRequest
from studio.engine.run.schedulers import KNOWN_NAMES, from_sampler_name


@dataclass
class ImageMetadata:
    """Parameters read from a file. Fields are None where the file does not say.

    `sampler` is as the tool wrote it; `scheduler` is Studio's name for it, when Studio has one.
    `problems` lists, in words, what could not be read or mapped.
    """

    source: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    steps: int | None = None
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    sampler: str | None = None
    scheduler: str | None = None
    model: str | None = None
    request: GenerationRequest | None = None
    problems: list[str] = field(default_factory=list)
    created: float | None = None  # seconds since the epoch, when the file says
    favorite: bool = False
    rating: int = 0
    extras: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> str | None:
        if self.width is None or self.height is None:
            return None
        return f"{self.width}x{self.height}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (the request as a dict)."""
        return {
            "source": self.source,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "steps": self.steps,
            "guidance": self.guidance,
            "width": self.width,
            "height": self.height,
            "sampler": self.sampler,
            "scheduler": self.scheduler,
            "model": self.model,
            "favorite": self.favorite,
            "rating": self.rating,
            "request": self.request.to_dict() if self.request else None,
            "problems": list(self.problems),
            "extras": dict(self.extras),
        }

    def map_scheduler(self, schedule: str = "") -> None:
        """Set `scheduler` from `sampler`, noting when Studio has no equivalent."""
        if not self.sampler:
            return
        self.scheduler = from_sampler_name(self.sampler, schedule)
        if self.scheduler is None:
            shown = f"{self.sampler} ({schedule})" if schedule else self.sampler
            self.problems.append(f"Sampler {shown!r} has no equivalent in Studio.")

    def build_request(self, *, keep_model: bool = False) -> None:
        """Fill `request` from the fields, when there is at least a prompt.

        Values Studio cannot use are noted in `problems`; the request keeps Studio's defaults
        for what the file does not say. Another tool's model name is not a Studio model id,
        so it is kept in `model` only, unless `keep_model`.
        """
        if self.prompt is None:
            return
        values: dict[str, Any] = {"prompt": self.prompt}
        if self.negative_prompt is not None:
            values["negative_prompt"] = self.negative_prompt
        for name in ("seed", "steps", "width", "height"):
            value = getattr(self, name)
            if value is not None:
                values[name] = value
        if self.guidance is not None:
            values["guidance"] = self.guidance
        if self.scheduler in KNOWN_NAMES:
            values["scheduler"] = self.scheduler
        values["model"] = self.model if keep_model and self.model else DEFAULT_MODEL
        request = GenerationRequest(**values)
        for problem in request.problems():
            self.problems.append(f"In the request read from the file: {problem}")
        self.request = request


def as_int(value: object) -> int | None:
    """An int from an int, a float with no fraction, or digits in text; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        result = float(value)
        return result if result == result else None
    if isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
        return result if result == result else None
    return None


def as_text(value: object) -> str | None:
    return value if isinstance(value, str) else None
