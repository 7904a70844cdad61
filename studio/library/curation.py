"""Favorites, ratings and delete. Curation is stored in the image file itself (the `studio`
chunk), so it survives a deleted index, a moved folder and a copy to another machine; the
file is rewritten atomically without re-encoding its pixels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from send2trash import send2trash

from studio.config.atomic import SaveError, write_atomic
from studio.library.metadata.studio_chunk import SCHEMA, STUDIO_KEY
from studio.library.pngchunks import (
    PNG_SIGNATURE,
    RawChunk,
    UnreadableImage,
    decode_text_chunk,
    encode_itxt,
    read_raw_chunks,
    write_chunks,
)


class CurationError(ValueError):
    """Curation could not be stored; the message says why."""


def set_curation(path: Path, *, favorite: bool | None = None, rating: int | None = None) -> None:
    """Store a favorite flag and/or a 0-5 rating in the PNG's `studio` chunk."""
    if rating is not None and not 0 <= rating <= 5:
        raise CurationError(f"A rating is from 0 to 5, not {rating}.")
    path = Path(path)
    with open(path, "rb") as fh:
        if fh.read(8) != PNG_SIGNATURE:
            raise CurationError(f"{path.name} is not a PNG; favorites and ratings are kept in PNG files only.")
    try:
        chunks = read_raw_chunks(path)
    except UnreadableImage as exc:
        raise CurationError(f"{path.name} could not be read: {exc}") from exc
    data: dict[str, Any] = {}
    position = None
    for i, chunk in enumerate(chunks):
        if chunk.kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, text = decode_text_chunk(chunk.kind, chunk.data)
            if key == STUDIO_KEY:
                loaded = _load(text)
                if loaded is not None:
                    data, position = loaded, i
                    break
    if position is None:
        data = {"schema": SCHEMA, "created": path.stat().st_mtime}
    if favorite is not None:
        data["favorite"] = bool(favorite)
    if rating is not None:
        data["rating"] = int(rating)
    new = RawChunk(b"iTXt", encode_itxt(STUDIO_KEY, json.dumps(data, ensure_ascii=False, sort_keys=True)))
    if position is None:
        position = next(i for i, c in enumerate(chunks) if c.kind == b"IDAT")
        chunks.insert(position, new)
    else:
        chunks[position] = new
    write_atomic(path, write_chunks(chunks))


def move_to_trash(path: Path) -> None:
    """Send a file to the system trash (never unlinked); SaveError with a reason on failure."""
    try:
        send2trash(str(path))
    except OSError as exc:
        raise SaveError(f"Could not move {path} to the trash: {exc}", getattr(exc, "errno", None)) from exc


def _load(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
