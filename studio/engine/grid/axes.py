"""X/Y/Z grid axes: `guidance=1,3,5`, `steps=10-30 (+10)`, `seed=1-9 [5]`, `prompt=cat,dog`.

Values are a comma list or AUTOMATIC1111's ranges: `A-B` (every whole number), `A-B (+S)`
(a step, negative to count down) and `A-B [N]` (N values evenly spread, ends included).
`prompt=S/R`: the first value is searched for in the prompt and each value replaces it.
`lora=W,…` sets the weight of the prompt's first `<lora:…>` tag; `lora:NAME=W,…` (or
`lora-weight:NAME=…`) that of the tag naming NAME, adding the tag where the prompt has none.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from typing import Any

from studio.engine.run.request import GenerationRequest
from studio.engine.run.schedulers import KNOWN_NAMES

MAX_VALUES = 64  # per axis; a grid past this is a typo more often than a plan
MAX_CELLS = 256

KINDS = {
    "seed": "seed", "steps": "steps", "guidance": "guidance", "cfg": "guidance",
    "sampler": "sampler", "scheduler": "sampler", "size": "size", "model": "model",
    "prompt": "prompt", "prompt s/r": "prompt", "lora": "lora", "lora-weight": "lora", "lora weight": "lora",
}
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE_STEP = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*\(\s*([+-]\s*{_NUMBER})\s*\)\s*$")
_RANGE_COUNT = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*\[\s*(\d+)\s*\]\s*$")
_RANGE_PLAIN = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
_LORA = re.compile(r"<(lora|lyco):([^:>]+):([^:>]*)((?::[^>]*)?)>", re.IGNORECASE)


class AxisError(ValueError):
    """An axis that cannot be used; the message says why, in words."""


@dataclass(frozen=True)
class Axis:
    kind: str  # one of KINDS' values
    values: tuple[Any, ...]
    text: str  # as the person wrote it, for the grid's metadata
    target: str = ""  # the LoRA a lora axis weighs; "" for the prompt's first tag

    def label(self, value: Any) -> str:
        names = {"guidance": "CFG", "steps": "Steps", "seed": "Seed", "sampler": "Sampler",
                 "size": "Size", "model": "Model", "lora": "LoRA weight"}
        if self.kind == "prompt":
            return str(value)
        if self.target:
            return f"{self.target}: {_number_text(value)}"
        if self.kind == "size":
            return f"Size: {value[0]}x{value[1]}"
        return f"{names[self.kind]}: {_number_text(value)}"

    def apply(self, request: GenerationRequest, value: Any) -> GenerationRequest:
        match self.kind:
            case "seed":
                return request.replace(seed=value)
            case "steps":
                return request.replace(steps=value)
            case "guidance":
                return request.replace(guidance=value)
            case "sampler":
                return request.replace(scheduler=value)
            case "size":
                return request.replace(width=value[0], height=value[1])
            case "model":
                return request.replace(model=value)
            case "prompt":
                search = self.values[0]
                return request.replace(prompt=request.prompt.replace(search, value),
                                       negative_prompt=request.negative_prompt.replace(search, value))
            case _:
                return request.replace(prompt=with_lora_weight(request.prompt, value, self.target))


def with_lora_weight(prompt: str, weight: float, name: str = "") -> str:
    """`prompt` with the weight of the `<lora:name:…>` tag (any letter case; the first tag when
    `name` is "") set to `weight`; a text-encoder weight after it is kept. A named LoRA the
    prompt lacks is added at the end."""
    wanted = name.strip().lower()
    for match in _LORA.finditer(prompt):
        if not wanted or match[2].strip().lower() == wanted:
            tag = f"<{match[1]}:{match[2]}:{_number_text(weight)}{match[4]}>"
            return prompt[: match.start()] + tag + prompt[match.end():]
    if not wanted:
        return prompt
    return f"{prompt.rstrip()} <lora:{name.strip()}:{_number_text(weight)}>".lstrip()


def parse_axis(text: str) -> Axis:
    """`kind=values` into an Axis, or AxisError saying what is wrong."""
    if "=" not in text:
        raise AxisError(f"An axis must look like guidance=1,3,5, not {_shown(text)}.")
    name, _, rest = text.partition("=")
    head, colon, target = name.partition(":")
    kind = KINDS.get(head.strip().lower() if colon else name.strip().lower())
    if kind is None or (colon and kind != "lora"):
        raise AxisError(f"Unknown axis {_shown(name.strip())}. Choose one of: seed, steps, guidance, "
                        "sampler, size, model, prompt, lora, lora:NAME.")
    target = target.strip()
    if colon and (not target or any(c in target for c in "<>:")):
        raise AxisError(f"lora:NAME needs the LoRA's name, as in lora:ink=0,0.5,1, not {_shown(name.strip())}.")
    if not rest.strip():
        raise AxisError(f"The {kind} axis has no values.")
    parts = _split(rest)
    values: list[Any] = []
    for part in parts:
        values.extend(_values(kind, part))
        if len(values) > MAX_VALUES:
            raise AxisError(f"The {kind} axis has more than {MAX_VALUES} values.")
    if kind == "prompt" and len(values) < 2:
        raise AxisError("prompt=S/R needs the text to search for and at least one replacement, "
                        "as in prompt=cat,dog,fox.")
    return Axis(kind, tuple(values), text.strip(), target)


def check_axes(axes: list[Axis], request: GenerationRequest) -> None:
    """What is wrong with these axes for this prompt, as AxisError."""
    if len(axes) > 3:
        raise AxisError("A grid has at most three axes (X, Y, Z).")
    kinds = [(a.kind, a.target.lower()) for a in axes]
    for kind, target in set(kinds):
        if kinds.count((kind, target)) > 1 and kind != "prompt":
            what = f"weight of the LoRA “{target}”" if target else kind
            raise AxisError(f"Two axes both change the {what}; use one.")
    targets = {a.target.lower() for a in axes if a.kind == "lora"}
    if "" in targets and len(targets) > 1:
        raise AxisError("A lora axis without a name changes the prompt's first tag; name the LoRA "
                        "(lora:NAME=…) when another axis weighs a LoRA too.")
    cells = math.prod(len(a.values) for a in axes)
    if cells > MAX_CELLS:
        raise AxisError(f"The grid would have {cells} cells; the most Studio makes at once is {MAX_CELLS}.")
    for axis in axes:
        if axis.kind == "prompt" and axis.values[0] not in request.prompt + request.negative_prompt:
            raise AxisError(f"prompt=S/R: {_shown(axis.values[0])} is not in the prompt, so nothing would change.")
        if axis.kind == "lora" and not axis.target and not _LORA.search(request.prompt):
            raise AxisError("The lora axis changes the weight of a <lora:NAME:WEIGHT> tag, and the prompt has none.")


def _split(text: str) -> list[str]:
    """Comma-separated, with "quoted, values" kept whole as A1111 reads them."""
    row = next(csv.reader([text], skipinitialspace=True), [])
    return [part.strip() for part in row if part.strip()]


def _values(kind: str, part: str) -> list[Any]:
    if kind in ("seed", "steps"):
        return [_whole(kind, v) for v in _numbers(kind, part, whole=True)]
    if kind in ("guidance", "lora"):
        return [round(v, 4) for v in _numbers(kind, part, whole=False)]
    if kind == "sampler":
        found = next((n for n in KNOWN_NAMES if n.lower() == part.lower()), None)
        if found is None:
            raise AxisError(f"Unknown sampler {_shown(part)}. Choose one of: {', '.join(KNOWN_NAMES)}.")
        return [found]
    if kind == "size":
        match = _SIZE.match(part)
        if not match:
            raise AxisError(f"A size must look like 512x768, not {_shown(part)}.")
        return [(int(match[1]), int(match[2]))]
    return [part]


def _numbers(kind: str, part: str, *, whole: bool) -> list[float]:
    if match := _RANGE_STEP.match(part):
        start, end, step = float(match[1]), float(match[2]), float(match[3].replace(" ", ""))
        if step == 0 or (end - start) * step < 0:
            raise AxisError(f"The range {_shown(part)} never reaches {match[2]} with a step of {match[3]}.")
        count = math.floor((end - start) / step + 1e-9) + 1
        if count > MAX_VALUES:
            raise AxisError(f"The range {_shown(part)} has {count} values; the most is {MAX_VALUES}.")
        return [start + i * step for i in range(count)]
    if match := _RANGE_COUNT.match(part):
        start, end, count = float(match[1]), float(match[2]), int(match[3])
        if not 1 <= count <= MAX_VALUES:
            raise AxisError(f"The range {_shown(part)} asks for {count} values; choose 1 to {MAX_VALUES}.")
        if count == 1:
            return [start]
        spread = [start + (end - start) * i / (count - 1) for i in range(count)]
        return [float(int(v)) for v in spread] if whole else spread
    if (match := _RANGE_PLAIN.match(part)) and not part.strip().startswith("-"):
        start, end = float(match[1]), float(match[2])
        step = 1.0 if end >= start else -1.0
        count = int(abs(end - start)) + 1
        if count > MAX_VALUES:
            raise AxisError(f"The range {_shown(part)} has {count} values; the most is {MAX_VALUES}.")
        return [start + i * step for i in range(count)]
    try:
        value = float(part)
    except ValueError:
        raise AxisError(f"The {kind} axis takes numbers, not {_shown(part)}.") from None
    if not math.isfinite(value):
        raise AxisError(f"The {kind} axis takes numbers, not {_shown(part)}.")
    return [value]


def _whole(kind: str, value: float) -> int:
    if value != int(value):
        raise AxisError(f"The {kind} axis takes whole numbers, not {_number_text(value)}.")
    return int(value)


def _number_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 1] + "…")
