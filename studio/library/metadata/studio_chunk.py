"""Studio's own `studio` iTXt chunk: the whole request as JSON, with a schema version.

{"schema": 1, "app": "Studio 0.1.0", "created": 1714567890.5, "request": {...},
 "favorite": false, "rating": 0}
"""

from __future__ import annotations

import json
from typing import Any

from studio.engine.run.request import GenerationRequest
from studio.engine.run.schedulers import spec
from studio.library.metadata.model import ImageMetadata, as_float, as_int

STUDIO_KEY = "studio"
SCHEMA = 1


def studio_json(
    request: GenerationRequest, *, app: str, created: float, favorite: bool = False, rating: int = 0
) -> str:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "app": app,
        "created": created,
        "request": request.to_dict(),
        "favorite": favorite,
        "rating": rating,
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def parse_studio(text: str) -> ImageMetadata:
    """What a `studio` chunk says; newer schemas are read as far as they are understood."""
    meta = ImageMetadata(source="Studio")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        meta.problems.append(f"The studio metadata is not valid JSON ({exc.msg}).")
        return meta
    if not isinstance(data, dict):
        meta.problems.append("The studio metadata is not a JSON object.")
        return meta
    schema = as_int(data.get("schema"))
    if schema is None or schema > SCHEMA:
        meta.problems.append(
            f"The studio metadata has schema {data.get('schema')!r}; this Studio knows {SCHEMA}. "
            "What it understands is shown."
        )
    meta.created = as_float(data.get("created"))
    meta.favorite = data.get("favorite") is True
    rating = as_int(data.get("rating"))
    meta.rating = rating if rating is not None and 0 <= rating <= 5 else 0
    raw = data.get("request")
    if raw is None:  # only curation (favorite, rating) on an image another tool made
        meta.source = None
        return meta
    if not isinstance(raw, dict):
        meta.problems.append("The studio metadata has no request.")
        return meta
    try:
        request = GenerationRequest.from_dict(raw)
    except TypeError as exc:
        meta.problems.append(f"The studio request could not be read ({exc}).")
        return meta
    meta.request = request
    meta.prompt = request.prompt
    meta.negative_prompt = request.negative_prompt
    meta.seed = request.seed
    meta.steps = request.steps
    meta.guidance = request.guidance
    meta.width, meta.height = request.width, request.height
    meta.scheduler = request.scheduler
    try:
        meta.sampler = spec(request.scheduler).a1111
    except KeyError:
        meta.sampler = request.scheduler
        meta.problems.append(f"Scheduler {request.scheduler!r} is not known to this Studio.")
    meta.model = request.model or None
    meta.problems.extend(f"In the saved request: {p}" for p in request.problems())
    return meta
