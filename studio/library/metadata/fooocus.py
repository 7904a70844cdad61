"""Fooocus: `parameters` as JSON when its metadata scheme is "fooocus" (2.2 and later)."""

from __future__ import annotations

import re

from studio.library.metadata.model import ImageMetadata, as_float, as_int, as_text

_RESOLUTION = re.compile(r"\(?\s*(\d+)\s*[,x]\s*(\d+)\s*\)?")


def parse_fooocus(data: object) -> ImageMetadata:
    """What Fooocus's JSON says; `resolution` is text like "(1024, 1024)", `seed` often text."""
    meta = ImageMetadata(source="Fooocus")
    if not isinstance(data, dict):
        meta.problems.append("The Fooocus parameters are not a JSON object.")
        return meta
    meta.prompt = as_text(data.get("prompt"))
    meta.negative_prompt = as_text(data.get("negative_prompt"))
    meta.seed = as_int(data.get("seed"))
    meta.steps = as_int(data.get("steps"))
    meta.guidance = as_float(data.get("guidance_scale"))
    resolution = data.get("resolution")
    match = _RESOLUTION.fullmatch(resolution.strip()) if isinstance(resolution, str) else None
    if match:
        meta.width, meta.height = int(match.group(1)), int(match.group(2))
    elif isinstance(resolution, list) and len(resolution) == 2:
        meta.width, meta.height = as_int(resolution[0]), as_int(resolution[1])
    else:
        meta.problems.append(f"Could not read the Fooocus resolution {resolution!r}.")
    meta.model = as_text(data.get("base_model"))
    for key in ("styles", "performance", "version", "refiner_model", "sharpness"):
        if key in data:
            meta.extras[key] = str(data[key])
    sampler = as_text(data.get("sampler"))
    if sampler:
        meta.sampler = sampler
        meta.map_scheduler(as_text(data.get("scheduler")) or "")
    if meta.prompt is None:
        meta.problems.append("The Fooocus parameters have no prompt.")
    meta.build_request()
    return meta
