"""Studio's own `studio` iTXt chunk: the whole request as JSON, with a schema version.

{"schema": 1, "app": "Studio 0.1.0", "created": 1714567890.5, "request": {...},
 "favorite": false, "rating": 0}
"""

from __future__ import annotations

import json
from typing import Any

from studio.engine.run.request import BATCH_RANGE, GenerationRequest, UsedAddOn
from studio.engine.run.schedulers import spec
from studio.library.metadata.image_settings import apply, read_studio
from studio.library.metadata.model import ImageMetadata
from studio.library.metadata.numbers import as_int, as_text, in_range, load_json, shown

STUDIO_KEY = "studio"
SCHEMA = 1


def studio_json(
    request: GenerationRequest, *, app: str, created: float, favorite: bool = False, rating: int = 0,
    lineage: dict[str, Any] | None = None, server: str = "",
) -> str:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "app": app,
        "created": created,
        "request": request.to_dict(),
        "favorite": favorite,
        "rating": rating,
    }
    if lineage:
        data["lineage"] = lineage
    if server:
        data["server"] = server  # made by `studio serve` there, not on this computer
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def parse_studio(text: str) -> ImageMetadata:
    """What a `studio` chunk says; newer schemas are read as far as they are understood.

    Every value is checked before it is used: one Studio cannot use is dropped with a note,
    and the request keeps Studio's default for it, so the rest of the file is still read.
    """
    meta = ImageMetadata(source="Studio")
    data = load_json(text)
    if data is None:
        meta.problems.append("The studio metadata is not valid JSON.")
        return meta
    if not isinstance(data, dict):
        meta.problems.append("The studio metadata is not a JSON object.")
        return meta
    schema = as_int(data.get("schema"))
    if schema is None or schema > SCHEMA:
        meta.problems.append(
            f"The studio metadata has schema {shown(data.get('schema'))}; this Studio knows {SCHEMA}. "
            "What it understands is shown."
        )
    meta.read_float("created", data.get("created"))
    meta.favorite = data.get("favorite") is True
    if data.get("rating") is not None:
        rating = as_int(data["rating"])
        if rating is None:
            meta.problems.append(f"Could not read the rating {shown(data['rating'])}; it was dropped.")
        else:
            meta.rating = rating
    raw = data.get("request")
    if raw is None:  # only curation (favorite, rating) on an image another tool made
        meta.source = None
        meta.check_numbers()
        return meta
    if not isinstance(raw, dict):
        meta.problems.append("The studio metadata has no request.")
        meta.check_numbers()
        return meta
    _read_request(meta, raw)
    lineage = data.get("lineage")
    if isinstance(lineage, dict):
        meta.lineage = {k: v for k, v in lineage.items() if k in ("start_image", "mask") and isinstance(v, dict)}
    return meta


def _read_request(meta: ImageMetadata, raw: dict[str, Any]) -> None:
    meta.prompt = as_text(raw.get("prompt"))
    if meta.prompt is None:
        meta.problems.append("The studio request has no prompt.")
        meta.check_numbers()
        return
    meta.negative_prompt = as_text(raw.get("negative_prompt"))
    for name in ("seed", "steps", "width", "height"):
        meta.read_int(name, raw.get(name))
    meta.read_float("guidance", raw.get("guidance"))
    meta.check_numbers()
    meta.model = as_text(raw.get("model")) or None
    scheduler = as_text(raw.get("scheduler"))
    values: dict[str, Any] = {"prompt": meta.prompt, "negative_prompt": meta.negative_prompt or ""}
    for name in ("seed", "steps", "width", "height", "guidance"):
        if getattr(meta, name) is not None:
            values[name] = getattr(meta, name)
    values["model"] = meta.model or ""
    if scheduler is not None:
        values["scheduler"] = scheduler
    batch = as_int(raw.get("batch"))
    if batch is not None and in_range(batch, BATCH_RANGE):
        values["batch"] = batch
    elif raw.get("batch") is not None:
        meta.problems.append(f"The batch size {shown(raw.get('batch'))} is out of range; it was dropped.")
    values.update(_styles(raw, meta.problems))
    values.update(_addons(raw, meta.problems))
    request = GenerationRequest(**values)
    meta.image_values = read_studio(raw)
    request = apply(request, meta.image_values, meta.problems)
    meta.request = request
    meta.scheduler = request.scheduler
    try:
        meta.sampler = spec(request.scheduler).a1111
    except KeyError:
        meta.sampler = request.scheduler
        meta.problems.append(f"Scheduler {shown(request.scheduler)} is not known to this Studio.")
    meta.problems.extend(f"In the saved request: {p}" for p in request.problems())
    for name in ("seed", "steps", "width", "height", "guidance"):
        if raw.get(name) is None:  # not in the file: the request's default is what it means
            setattr(meta, name, getattr(request, name))


MAX_STYLES = 64


def _styles(raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The styles a request was made with and the prompts as typed before them."""
    found: dict[str, Any] = {}
    names = raw.get("styles")
    if isinstance(names, list) and len(names) <= MAX_STYLES and all(isinstance(n, str) for n in names):
        found["styles"] = tuple(names)
    elif names is not None:
        problems.append("Could not read the styles the image was made with; they were dropped.")
    for key in ("prompt_before_styles", "negative_before_styles"):
        text = as_text(raw.get(key))
        if text is not None:
            found[key] = text
    return found


MAX_ADDONS = 64


def _addons(raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The LoRAs and embeddings the image was made with; unreadable entries are noted."""
    items = raw.get("addons")
    if items is None:
        return {}
    if not isinstance(items, list) or len(items) > MAX_ADDONS:
        problems.append("Could not read the LoRAs and embeddings the image was made with; they were dropped.")
        return {}
    found = [UsedAddOn.from_dict(item) for item in items]
    if any(item is None for item in found):
        problems.append("Some of the LoRAs and embeddings recorded in the image could not be read; "
                        "they were dropped.")
    return {"addons": tuple(item for item in found if item is not None)}
