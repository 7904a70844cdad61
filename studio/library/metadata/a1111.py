"""AUTOMATIC1111 infotext: the `parameters` text most Stable Diffusion tools write and read.

<prompt>
Negative prompt: <negative prompt>
Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model: name, ...
"""

from __future__ import annotations

import json
import re

from studio.engine.run.request import GenerationRequest
from studio.engine.run.schedulers import spec
from studio.library.metadata.image_settings import A1111_KEYS, infotext_fields, read_infotext
from studio.library.metadata.model import ImageMetadata
from studio.library.metadata.numbers import shown

MAX_INFOTEXT_CHARS = 256 * 1024  # a prompt and its settings; past this it is not a real infotext
_NEGATIVE = "Negative prompt:"
_KEY_PUNCTUATION = frozenset(" -/")


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
    fields.extend(infotext_fields(request))
    fields.append(("Version", version))
    lines.append(", ".join(f"{key}: {_quote(str(value))}" for key, value in fields))
    return "\n".join(lines)


def parse_infotext(text: str, source: str = "AUTOMATIC1111") -> ImageMetadata:
    """What an infotext says; unknown keys go to `extras`, unreadable values to `problems`."""
    meta = ImageMetadata(source=source)
    if len(text) > MAX_INFOTEXT_CHARS:
        meta.problems.append(
            f"The parameters are {len(text):,} characters long; Studio reads the first "
            f"{MAX_INFOTEXT_CHARS:,} (the settings line after them was dropped)."
        )
        text = text[:MAX_INFOTEXT_CHARS]
    lines = text.strip().replace("\r\n", "\n").split("\n")
    last = lines[-1] if lines else ""
    pairs = settings_pairs(last)
    if len(pairs) < 3:
        last, pairs = "", []
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
    params = {key.strip(): _unquote(value.strip()) for key, value in pairs}
    if not last:
        meta.problems.append("The parameters have no settings line (steps, sampler, seed...).")
    _apply(meta, params)
    meta.build_request()
    return meta


def _apply(meta: ImageMetadata, params: dict[str, str]) -> None:
    known = {"Steps", "Sampler", "Schedule type", "CFG scale", "Seed", "Size", "Model"} | A1111_KEYS
    for key, value in params.items():
        if key not in known:
            meta.extras[key] = value
    meta.read_int("steps", params.get("Steps"))
    meta.read_float("guidance", params.get("CFG scale"))
    meta.read_int("seed", params.get("Seed"))
    if "Size" in params:
        width, x, height = params["Size"].partition("x")
        if x and width.strip().isdigit() and height.strip().isdigit():
            meta.read_int("width", width)
            meta.read_int("height", height)
        else:
            meta.problems.append(f"Could not read the size {shown(params['Size'])}; it was dropped.")
    meta.model = params.get("Model") or None
    meta.image_values = read_infotext(params, meta.problems)
    if "Sampler" in params:
        meta.sampler = params["Sampler"]
        schedule = params.get("Schedule type", "")
        meta.map_scheduler("" if schedule.lower() == "automatic" else schedule)
    version = params.get("Version", "")
    if version.startswith("Fooocus"):
        meta.source = "Fooocus"
    elif re.match(r"^f\d", version):
        meta.source = "Forge"


def settings_pairs(line: str) -> list[tuple[str, str]]:
    """The `Key: value` pairs of a settings line, as AUTOMATIC1111's pattern
    `\\s*(\\w[\\w \\-/]+):\\s*("(?:\\\\.|[^\\\\"])+"|[^,]*)(?:,|$)` finds them, in one pass.

    That pattern, run by `findall`, retries at every position and is quadratic on a long line
    without colons. Here each colon is looked at once: its key is the run of key characters
    just before it, its value runs to the closing quote (if quoted and followed by a comma or the
    end) or to the next comma. Every character is read a bounded number of times.
    """
    pairs: list[tuple[str, str]] = []
    closes = _QuoteCloser(line)
    pos, end = 0, len(line)
    while pos < end:
        colon = line.find(":", pos)
        if colon < 0:
            break
        start = colon
        while start > pos and _is_key_char(line[start - 1]):
            start -= 1
        while start < colon and not _is_word_char(line[start]):
            start += 1  # a key starts with a word character; spaces before it are `\s*`
        if colon - start < 2:
            pos = colon + 1
            continue
        value_start = colon + 1
        while value_start < end and line[value_start].isspace():
            value_start += 1
        close = closes.after(value_start) if value_start < end and line[value_start] == '"' else -1
        if close > value_start + 1 and (close + 1 == end or line[close + 1] == ","):
            value_end = close + 1
        else:
            comma = line.find(",", value_start)
            value_end = end if comma < 0 else comma
        pairs.append((line[start:colon], line[value_start:value_end]))
        pos = value_end + 1
    return pairs


class _QuoteCloser:
    """Where the quoted string opening at a position closes (-1 if never), remembering the last
    scan: a later opening quote inside it was an escaped one, so it closes at the same place."""

    def __init__(self, line: str) -> None:
        self._line = line
        self._opened = -1
        self._closed = -1

    def after(self, opening: int) -> int:
        if self._opened >= 0 and opening < (self._closed if self._closed >= 0 else len(self._line)):
            return self._closed
        line, i = self._line, opening + 1
        closed = -1
        while i < len(line):
            char = line[i]
            if char == "\\":
                if i + 1 >= len(line):
                    break
                i += 2
                continue
            if char == '"':
                closed = i
                break
            i += 1
        self._opened, self._closed = opening, closed
        return closed


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _is_key_char(char: str) -> bool:
    return char.isalnum() or char == "_" or char in _KEY_PUNCTUATION


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
