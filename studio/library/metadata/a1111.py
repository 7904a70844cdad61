"""AUTOMATIC1111 infotext: the `parameters` text most Stable Diffusion tools write and read.

<prompt>
Negative prompt: <negative prompt>
Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: name, ...
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from studio.engine.run.request import GenerationRequest
from studio.engine.run.schedulers import spec
from studio.library.metadata.model import ImageMetadata, as_float, as_int

# The same pattern AUTOMATIC1111 uses: `Key: value` pairs, values optionally JSON-quoted.
_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_SIZE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")
_NEGATIVE = "Negative prompt:"
T = TypeVar("T")


def format_infotext(request: GenerationRequest, version: str, model_name: str = "") -> str:
    """The infotext for a request, with sampler names as AUTOMATIC1111 writes them."""
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"{_NEGATIVE} {request.negative_prompt}")
    sampler = spec(request.scheduler).a1111 or request.scheduler
    fields: list[tuple[str, object]] = [
        ("Steps", request.steps),
        ("Sampler", sampler),
        ("CFG scale", f"{float(request.guidance):g}"),
    ]
    if request.seed is not None:
        fields.append(("Seed", request.seed))
    fields.append(("Size", request.size))
    model = model_name or request.model
    if model:
        fields.append(("Model", model))
    fields.append(("Version", version))
    lines.append(", ".join(f"{key}: {_quote(str(value))}" for key, value in fields))
    return "\n".join(lines)


def parse_infotext(text: str, source: str = "AUTOMATIC1111") -> ImageMetadata:
    """What an infotext says; unknown keys go to `extras`, unreadable values to `problems`."""
    meta = ImageMetadata(source=source)
    lines = text.strip().replace("\r\n", "\n").split("\n")
    last = lines[-1] if lines else ""
    if len(_PARAM.findall(last)) < 3:
        last = ""
    else:
        lines = lines[:-1]
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in lines:
        if line.startswith(_NEGATIVE):
            in_negative = True
            line = line[len(_NEGATIVE) :].strip()
        (negative if in_negative else prompt).append(line)
    meta.prompt = "\n".join(prompt).strip()
    meta.negative_prompt = "\n".join(negative).strip()
    params = {key.strip(): _unquote(value.strip()) for key, value in _PARAM.findall(last)}
    if not last:
        meta.problems.append("The parameters have no settings line (steps, sampler, seed...).")
    _apply(meta, params)
    meta.build_request()
    return meta


def _apply(meta: ImageMetadata, params: dict[str, str]) -> None:
    known = {"Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model"}
    for key, value in params.items():
        if key not in known:
            meta.extras[key] = value
    if "Steps" in params:
        meta.steps = _number(meta, "Steps", as_int(params["Steps"]), params["Steps"])
    if "CFG scale" in params:
        meta.guidance = _number(meta, "CFG scale", as_float(params["CFG scale"]), params["CFG scale"])
    if "Seed" in params:
        meta.seed = _number(meta, "Seed", as_int(params["Seed"]), params["Seed"])
    if "Size" in params:
        match = _SIZE.match(params["Size"])
        if match:
            meta.width, meta.height = int(match.group(1)), int(match.group(2))
        else:
            meta.problems.append(f"Could not read the size {params['Size']!r}.")
    meta.model = params.get("Model") or None
    if "Sampler" in params:
        meta.sampler = params["Sampler"]
        schedule = params.get("Schedule type", "")
        meta.map_scheduler("" if schedule.lower() == "automatic" else schedule)
    version = params.get("Version", "")
    if version.startswith("Fooocus"):
        meta.source = "Fooocus"
    elif re.match(r"^f\d", version):
        meta.source = "Forge"


def _number(meta: ImageMetadata, key: str, value: T | None, raw: str) -> T | None:
    if value is None:
        meta.problems.append(f"Could not read {key} {raw!r}.")
    return value


def _quote(text: str) -> str:
    if "," not in text and "\n" not in text and ":" not in text and '"' not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text
        return value if isinstance(value, str) else text
    return text
