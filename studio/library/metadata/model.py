"""What an image's metadata says, in one shape whichever tool wrote it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from studio.engine.run.request import DEFAULT_MODEL, GenerationRequest
from studio.engine.run.schedulers import KNOWN_NAMES, from_sampler_name
from studio.library.metadata.image_settings import apply
from studio.library.metadata.numbers import (
    CREATED_RANGE,
    GUIDANCE_LIMIT,
    RATING_RANGE,
    SEED_RANGE,
    SIDE_RANGE,
    STEPS_RANGE,
    as_float,
    as_int,
    as_text,
    digit_count,
    in_range,
    shown,
)

__all__ = ["ImageMetadata", "as_float", "as_int", "as_text"]

_INT_FIELDS = {"seed": SEED_RANGE, "steps": STEPS_RANGE, "width": SIDE_RANGE, "height": SIDE_RANGE}
_LABELS = {"guidance": "guidance (CFG scale)", "created": "creation time"}


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
    image_values: dict[str, Any] = field(default_factory=dict)  # strength, mask blur, hires...: request fields
    lineage: dict[str, Any] = field(default_factory=dict)  # the start image and mask, by path and hash

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
            "image_values": dict(self.image_values),
            "lineage": dict(self.lineage),
        }

    def map_scheduler(self, schedule: str = "") -> None:
        """Set `scheduler` from `sampler`, noting when Studio has no equivalent."""
        if not self.sampler:
            return
        self.scheduler = from_sampler_name(self.sampler, schedule)
        if self.scheduler is None:
            shown = f"{self.sampler} ({schedule})" if schedule else self.sampler
            self.problems.append(f"Sampler {shown!r} has no equivalent in Studio.")

    def read_int(self, name: str, raw: object) -> None:
        """Set the whole-number field `name` from what the file wrote; unreadable is noted."""
        value = as_int(raw)
        if raw is not None and value is None:
            self._note_unreadable(name, raw)
        setattr(self, name, value)

    def read_float(self, name: str, raw: object) -> None:
        """Set the number field `name` from what the file wrote; unreadable is noted."""
        value = as_float(raw)
        if raw is not None and value is None:
            self._note_unreadable(name, raw)
        setattr(self, name, value)

    def _note_unreadable(self, name: str, raw: object) -> None:
        label = _LABELS.get(name, name)
        digits = digit_count(raw)
        if digits is not None:
            self.problems.append(f"The {label} has {digits:,} digits, more than Studio reads; it was dropped.")
        else:
            self.problems.append(f"Could not read the {label} {shown(raw)}; it was dropped.")

    def check_numbers(self) -> None:
        """Drop, with a note, every number outside what Studio, the index and a request hold."""
        for name, bounds in _INT_FIELDS.items():
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and not isinstance(value, bool)
                                          and in_range(value, bounds)):
                self._note_range(name, value, f"{bounds[0]:,} to {bounds[1]:,}")
                setattr(self, name, None)
        if self.guidance is not None and not (
            isinstance(self.guidance, int | float) and abs(self.guidance) <= GUIDANCE_LIMIT
        ):
            self._note_range("guidance", self.guidance, f"-{GUIDANCE_LIMIT:g} to {GUIDANCE_LIMIT:g}")
            self.guidance = None
        if self.created is not None and not (
            isinstance(self.created, int | float) and in_range(self.created, CREATED_RANGE)
        ):
            self._note_range("created", self.created, "the years 1970 to 9999")
            self.created = None
        if not (isinstance(self.rating, int) and in_range(self.rating, RATING_RANGE)):
            self._note_range("rating", self.rating, f"{RATING_RANGE[0]} to {RATING_RANGE[1]} stars")
            self.rating = 0
        self.favorite = self.favorite is True

    def _note_range(self, name: str, value: object, bounds: str) -> None:
        label = _LABELS.get(name, name)
        self.problems.append(f"The {label} {shown(value)} is out of range ({bounds}); it was dropped.")

    def build_request(self, *, keep_model: bool = False) -> None:
        """Fill `request` from the fields, when there is at least a prompt.

        Values Studio cannot use are noted in `problems`; the request keeps Studio's defaults
        for what the file does not say. Another tool's model name is not a Studio model id,
        so it is kept in `model` only, unless `keep_model`.
        """
        self.check_numbers()
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
        self.request = apply(request, self.image_values, self.problems)
