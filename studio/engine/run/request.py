"""The generation request: everything one run needs, frozen at submission.

Torch-free on purpose: the library and the UI share it without loading torch.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

from studio.config.shown import shown
from studio.engine.run.schedulers import KNOWN_NAMES

SEED_MAX = 2**32 - 1
STEPS_RANGE = (1, 500)
GUIDANCE_RANGE = (0.0, 30.0)
SIZE_RANGE = (32, 2048)
SIZE_MULTIPLE = 8
BATCH_RANGE = (1, 16)
PROMPT_MAX_CHARS = 20_000  # far past any text encoder's window; bounds what a request carries
DEFAULT_MODEL = ""  # empty means "the default model", resolved by the model registry


@dataclass(frozen=True)
class GenerationRequest:
    """One text-to-image run. `seed=None` means random, resolved before the run."""

    prompt: str
    negative_prompt: str = ""
    seed: int | None = None
    steps: int = 20
    guidance: float = 7.5
    width: int = 512
    height: int = 512
    scheduler: str = "Euler"
    model: str = DEFAULT_MODEL
    batch: int = 1

    def problems(self) -> list[str]:
        """Every problem with this request, each in words a person can act on."""
        return [problem.message for problem in self.field_problems()]

    def field_problems(self) -> list[FieldProblem]:
        """Every problem with this request, each tagged with the field it is about."""
        found: list[FieldProblem] = []
        for name in ("prompt", "negative_prompt"):
            text = getattr(self, name)
            words = "prompt" if name == "prompt" else "negative prompt"
            if not isinstance(text, str):
                found.append(FieldProblem(name, f"The {words} must be text."))
            elif len(text) > PROMPT_MAX_CHARS:
                found.append(FieldProblem(name, f"The {words} is {len(text):,} characters long; "
                                          f"the most Studio takes is {PROMPT_MAX_CHARS:,}."))
            elif not _encodable(text):
                found.append(FieldProblem(name, f"The {words} holds characters that are not valid "
                                          "text (broken surrogate pairs); retype or paste it again."))
        if self.seed is not None and (
            not _is_int(self.seed) or not 0 <= self.seed <= SEED_MAX
        ):
            found.append(FieldProblem("seed", f"Seed must be a whole number from 0 to {SEED_MAX}, "
                                      f"not {shown(self.seed)}."))
        lo, hi = STEPS_RANGE
        if not _is_int(self.steps) or not lo <= self.steps <= hi:
            found.append(FieldProblem("steps", f"Steps must be a whole number from {lo} to {hi}, "
                                      f"not {shown(self.steps)}."))
        glo, ghi = GUIDANCE_RANGE
        if not _is_number(self.guidance) or not glo <= float(self.guidance) <= ghi:
            found.append(FieldProblem("guidance", f"Guidance must be a number from {glo:g} to {ghi:g}, "
                                      f"not {shown(self.guidance)}."))
        for name, value in (("width", self.width), ("height", self.height)):
            found.extend(FieldProblem(name, text) for text in _size_problems(name.capitalize(), value))
        if not isinstance(self.scheduler, str) or self.scheduler not in KNOWN_NAMES:
            known = ", ".join(KNOWN_NAMES)
            found.append(FieldProblem("scheduler", f"Unknown scheduler {shown(self.scheduler)}. "
                                      f"Choose one of: {known}."))
        if not isinstance(self.model, str):
            found.append(FieldProblem("model", "The model must be named by text."))
        blo, bhi = BATCH_RANGE
        if not _is_int(self.batch) or not blo <= self.batch <= bhi:
            found.append(FieldProblem("batch", f"Batch size must be a whole number from {blo} to {bhi}, "
                                      f"not {shown(self.batch)}."))
        return found

    def with_seed(self) -> GenerationRequest:
        """This request with a concrete seed: its own, or a fresh random one."""
        if self.seed is not None:
            return self
        return dataclasses.replace(self, seed=secrets.randbelow(SEED_MAX + 1))

    def per_image(self) -> list[GenerationRequest]:
        """One request per image of the batch: image i uses seed + i, as other tools do."""
        seed = self.with_seed().seed
        assert seed is not None
        return [
            dataclasses.replace(self, seed=(seed + i) % (SEED_MAX + 1), batch=1)
            for i in range(self.batch)
        ]

    def replace(self, **changes: Any) -> GenerationRequest:
        return dataclasses.replace(self, **changes)

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenerationRequest:
        """Build from a dict, ignoring unknown keys so that newer files still load."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class FieldProblem:
    """One thing wrong with a request: the field's name (as in GenerationRequest) and why."""

    field: str
    message: str


class InvalidRequest(ValueError):
    """A request that cannot run; `problems` lists every reason, `fields` the fields at fault."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__(" ".join(p.message for p in problems))
        self.problems = [p.message for p in problems]
        self.fields = tuple(dict.fromkeys(p.field for p in problems))


def check(request: GenerationRequest) -> GenerationRequest:
    """The request if it is valid, else InvalidRequest with every problem."""
    problems = request.field_problems()
    if problems:
        raise InvalidRequest(problems)
    return request


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def _size_problems(name: str, value: object) -> list[str]:
    lo, hi = SIZE_RANGE
    if not _is_int(value):
        return [f"{name} must be a whole number of pixels, not {shown(value)}."]
    assert isinstance(value, int)
    if not lo <= value <= hi:
        return [f"{name} must be from {lo} to {hi} pixels, not {value}."]
    if value % SIZE_MULTIPLE:
        below = value - value % SIZE_MULTIPLE
        return [
            f"{name} must be a multiple of {SIZE_MULTIPLE} pixels; "
            f"{value} is not (try {below} or {below + SIZE_MULTIPLE})."
        ]
    return []
