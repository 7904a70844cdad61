"""The parameters of an image as text, the way other tools paste and read them."""

from __future__ import annotations

import json
from pathlib import Path

from studio.library.metadata import ImageMetadata, UnreadableImage, read_metadata, read_texts
from studio.library.metadata.a1111 import format_infotext
from studio.library.store import APP_VERSION


def parameters_text(path: Path, meta: ImageMetadata | None = None) -> str:
    """The file's own infotext when it has one; else infotext made from what was read."""
    try:
        texts = read_texts(path).texts
    except UnreadableImage:
        texts = {}
    own = texts.get("parameters", "")
    if own.strip() and not own.lstrip().startswith("{"):
        return own
    if meta is None:
        try:
            meta = read_metadata(path)
        except UnreadableImage as exc:
            return str(exc)
    if meta.request is not None:
        return format_infotext(meta.request, APP_VERSION, meta.model or "")
    if texts:
        return "\n\n".join(f"{key}:\n{value}" for key, value in texts.items())
    return json.dumps(meta.to_dict(), indent=2, ensure_ascii=False)
