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
FITS = ("crop", "fit", "stretch")  # how a start image of another shape meets the chosen size
MASK_BLUR_RANGE = (0, 64)
PADDING_RANGE = (0, 512)
OUTPAINT_MAX = 1024  # pixels added on one side
HIRES_SCALE_RANGE = (1.0, 4.0)
PATH_MAX_CHARS = 4096
DEFAULT_MODEL = ""  # empty means "the default model", resolved by the model registry


@dataclass(frozen=True)
class UsedAddOn:
    """A LoRA or embedding a run used, as the image's metadata records it: the name the prompt
    calls it by, its file, the short hash AUTOMATIC1111 writes, and its weight."""

    kind: str  # "lora" or "embedding"
    name: str
    file: str = ""
    short_hash: str = ""
    weight: float = 1.0

    @classmethod
    def from_dict(cls, data: Any) -> UsedAddOn | None:
        """The add-on a metadata dict describes, or None where it is not one."""
        if not isinstance(data, dict) or data.get("kind") not in ("lora", "embedding"):
            return None
        name, weight = data.get("name"), data.get("weight", 1.0)
        if not isinstance(name, str) or not name or not _is_number(weight):
            return None
        text = {k: str(data[k]) if isinstance(data.get(k), str) else "" for k in ("file", "short_hash")}
        return cls(str(data["kind"]), name[:256], text["file"][:PATH_MAX_CHARS], text["short_hash"][:64],
                   float(weight))


@dataclass(frozen=True)
class GenerationRequest:
    """One run: text-to-image, or from a start image (image-to-image, inpainting,
    outpainting), optionally with a variation seed and a hires pass. `seed=None` means
    random, resolved before the run. Images travel as file paths, so a request stays JSON."""

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
    start_image: str = ""  # path of the picture to start from; empty: text-to-image
    strength: float = 0.75  # how far along the forward process the start image is noised
    mask: str = ""  # path of a mask picture: white is repainted, black kept, grey partly
    mask_blur: int = 4  # pixels of soft edge where the result meets the kept picture
    masked_area_only: bool = False  # work the area around the mask at full size, paste it back
    masked_area_padding: int = 32
    fit: str = "crop"
    outpaint: tuple[int, int, int, int] = (0, 0, 0, 0)  # pixels added left, top, right, bottom
    variation_seed: int | None = None
    variation_strength: float = 0.0
    hires_scale: float = 1.0  # 1 means no hires pass
    hires_strength: float = 0.5
    hires_steps: int = 0  # 0 means as many as `steps`
    hires_upscaler: str = "Lanczos"
    # Styles already applied to prompt and negative_prompt, and what the person typed before them.
    styles: tuple[str, ...] = ()
    prompt_before_styles: str = ""
    negative_before_styles: str = ""
    # Filled in by the engine: the LoRAs and embeddings the prompt's tags and words resolved to.
    addons: tuple[UsedAddOn, ...] = ()

    @property
    def mode(self) -> str:
        """"text", "image" (image-to-image) or "inpaint" (a mask or an outpainted border)."""
        if not self.start_image:
            return "text"
        return "inpaint" if self.mask or any(self.outpaint) else "image"

    @property
    def steps_to_run(self) -> int:
        """The denoising steps that really run: image-to-image skips the start of the
        schedule, as the diffusers pipelines count it (int(steps * strength))."""
        if self.mode == "text" or self.strength >= 1:
            return self.steps
        return min(int(self.steps * self.strength), self.steps)

    @property
    def hires_steps_to_run(self) -> int:
        if self.hires_scale <= 1:
            return 0
        steps = self.hires_steps or self.steps
        return min(int(steps * self.hires_strength), steps)

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
        found.extend(self._image_problems())
        return found

    def _image_problems(self) -> list[FieldProblem]:
        found: list[FieldProblem] = []
        for name, words in (("start_image", "start image"), ("mask", "mask")):
            value = getattr(self, name)
            if not isinstance(value, str) or len(value) > PATH_MAX_CHARS or not _encodable(value):
                found.append(FieldProblem(name, f"The {words} must be named by a file path."))
        if self.mask and not self.start_image:
            found.append(FieldProblem("mask", "A mask needs a start image to paint on."))
        for name, words, lo_hi in (
            ("strength", "Strength", (0.0, 1.0)),
            ("variation_strength", "Variation strength", (0.0, 1.0)),
            ("hires_strength", "Hires strength", (0.0, 1.0)),
            ("hires_scale", "Hires scale", HIRES_SCALE_RANGE),
        ):
            value = getattr(self, name)
            if not _is_number(value) or not lo_hi[0] <= float(value) <= lo_hi[1]:
                found.append(FieldProblem(name, f"{words} must be a number from {lo_hi[0]:g} to {lo_hi[1]:g}, "
                                          f"not {shown(value)}."))
        for name, words, (lo, hi) in (
            ("mask_blur", "Mask blur", MASK_BLUR_RANGE),
            ("masked_area_padding", "The padding around the masked area", PADDING_RANGE),
            ("hires_steps", "Hires steps", (0, STEPS_RANGE[1])),
        ):
            value = getattr(self, name)
            if not _is_int(value) or not lo <= value <= hi:
                found.append(FieldProblem(name, f"{words} must be a whole number from {lo} to {hi}, "
                                          f"not {shown(value)}."))
        if not isinstance(self.masked_area_only, bool):
            found.append(FieldProblem("masked_area_only", "“Only the masked area” must be on or off."))
        if self.fit not in FITS:
            found.append(FieldProblem("fit", f"Fit must be one of: {', '.join(FITS)}; not {shown(self.fit)}."))
        margins = self.outpaint
        if (not isinstance(margins, tuple | list) or len(margins) != 4
                or not all(_is_int(m) and 0 <= m <= OUTPAINT_MAX for m in margins)):
            found.append(FieldProblem("outpaint", "Outpainting takes four whole numbers of pixels "
                                      f"(left, top, right, bottom), each from 0 to {OUTPAINT_MAX}; "
                                      f"not {shown(margins)}."))
        elif any(margins) and not self.start_image:
            found.append(FieldProblem("outpaint", "Outpainting needs a start image to extend."))
        if self.variation_seed is not None and (
            not _is_int(self.variation_seed) or not 0 <= self.variation_seed <= SEED_MAX
        ):
            found.append(FieldProblem("variation_seed", f"The variation seed must be a whole number from 0 to "
                                      f"{SEED_MAX}, not {shown(self.variation_seed)}."))
        if not isinstance(self.hires_upscaler, str) or not self.hires_upscaler or len(self.hires_upscaler) > 256:
            found.append(FieldProblem("hires_upscaler", "The hires upscaler must be named."))
        counted = not found and _is_int(self.steps) and self.steps > 0
        if counted and self.start_image and 0 < self.strength < 1 and int(self.steps * self.strength) == 0:
            found.append(FieldProblem("strength", f"At strength {self.strength:g}, {self.steps} steps run no "
                                      "denoising step; raise the steps or the strength."))
        if counted and self.hires_scale > 1 and int((self.hires_steps or self.steps) * self.hires_strength) == 0:
            found.append(FieldProblem("hires_strength", f"At hires strength {self.hires_strength:g}, "
                                      f"{self.hires_steps or self.steps} steps run no denoising step; raise "
                                      "the hires steps or the hires strength."))
        if (self.hires_scale != 1 and _is_number(self.hires_scale)
                and _is_int(self.width) and _is_int(self.height)
                and max(self.width, self.height) * float(self.hires_scale) > SIZE_RANGE[1]):
            found.append(FieldProblem("hires_scale", f"A hires pass at {float(self.hires_scale):g}x makes "
                                      f"{self.size} larger than {SIZE_RANGE[1]} pixels on a side."))
        return found

    def with_seed(self) -> GenerationRequest:
        """This request with a concrete seed: its own, or a fresh random one."""
        changes: dict[str, Any] = {}
        if self.seed is None:
            changes["seed"] = secrets.randbelow(SEED_MAX + 1)
        if self.variation_seed is None and _is_number(self.variation_strength) and self.variation_strength > 0:
            changes["variation_seed"] = secrets.randbelow(SEED_MAX + 1)
        return dataclasses.replace(self, **changes) if changes else self

    def per_image(self) -> list[GenerationRequest]:
        """One request per image of the batch: image i uses seed + i, as other tools do."""
        seed = self.with_seed().seed
        assert seed is not None
        return [
            dataclasses.replace(self, seed=(seed + i) % (SEED_MAX + 1), batch=1,
                                variation_seed=None if self.variation_seed is None
                                else (self.variation_seed + i) % (SEED_MAX + 1))
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
        values = {k: v for k, v in data.items() if k in names}
        if isinstance(values.get("outpaint"), list):
            values["outpaint"] = tuple(values["outpaint"])  # JSON has no tuples
        if isinstance(values.get("styles"), list):
            values["styles"] = tuple(values["styles"])
        if "addons" in values:
            raw = values["addons"] if isinstance(values["addons"], list | tuple) else []
            values["addons"] = tuple(a for a in map(_addon, raw) if a is not None)
        return cls(**values)


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


def _addon(data: Any) -> UsedAddOn | None:
    return data if isinstance(data, UsedAddOn) else UsedAddOn.from_dict(data)


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
