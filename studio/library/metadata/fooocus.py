"""Fooocus: `parameters` as JSON when its metadata scheme is "fooocus" (2.2 and later)."""

from __future__ import annotations

import re

from studio.library.metadata.model import ImageMetadata, as_text
from studio.library.metadata.numbers import LongNumber, shown

_RESOLUTION = re.compile(r"\(?\s*(\d+)\s*[,x]\s*(\d+)\s*\)?")
_MAX_RESOLUTION_CHARS = 200
_MAX_EXTRA_CHARS = 1000


def parse_fooocus(data: object) -> ImageMetadata:
    """What Fooocus's JSON says; `resolution` is text like "(1024, 1024)", `seed` often text."""
    meta = ImageMetadata(source="Fooocus")
    if not isinstance(data, dict):
        meta.problems.append("The Fooocus parameters are not a JSON object.")
        return meta
    meta.prompt = as_text(data.get("prompt"))
    meta.negative_prompt = as_text(data.get("negative_prompt"))
    meta.read_int("seed", data.get("seed"))
    meta.read_int("steps", data.get("steps"))
    meta.read_float("guidance", data.get("guidance_scale"))
    resolution = data.get("resolution")
    match = None
    if isinstance(resolution, str) and len(resolution) <= _MAX_RESOLUTION_CHARS:
        match = _RESOLUTION.fullmatch(resolution.strip())
    if match:
        meta.read_int("width", match.group(1))
        meta.read_int("height", match.group(2))
    elif isinstance(resolution, list) and len(resolution) == 2:
        meta.read_int("width", resolution[0])
        meta.read_int("height", resolution[1])
    else:
        meta.problems.append(f"Could not read the Fooocus resolution {shown(resolution)}; it was dropped.")
    meta.model = as_text(data.get("base_model"))
    for key in ("styles", "performance", "version", "refiner_model", "sharpness"):
        if key in data:
            meta.extras[key] = _extra(data[key])
    sampler = as_text(data.get("sampler"))
    if sampler:
        meta.sampler = sampler
        meta.map_scheduler(as_text(data.get("scheduler")) or "")
    if meta.prompt is None:
        meta.problems.append("The Fooocus parameters have no prompt.")
    meta.build_request()
    return meta



def _extra(value: object) -> str:
    """An extra setting as text; a number too long to read is described instead."""
    if isinstance(value, LongNumber):
        return shown(value)
    return str(value)[:_MAX_EXTRA_CHARS]
