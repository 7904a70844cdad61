"""Favorites, ratings and delete. Curation is stored in the image file itself (the `studio`
chunk), so it survives a deleted index, a moved folder and a copy to another machine; the
file is rewritten atomically without re-encoding its pixels."""

from __future__ import annotations

import errno
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
    try:
        with open(path, "rb") as fh:
            signature = fh.read(8)
        if signature != PNG_SIGNATURE:
            raise CurationError(f"{path.name} is not a PNG; favorites and ratings are kept in PNG files only.")
        chunks = read_raw_chunks(path)
        created = path.stat().st_mtime
    except FileNotFoundError:
        raise CurationError(f"{path.name} is no longer there.") from None
    except UnreadableImage as exc:
        raise CurationError(f"{path.name} could not be read: {exc}") from exc
    except OSError as exc:
        raise CurationError(f"{path.name} could not be read: {_why(exc)}.") from exc
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
        data = {"schema": SCHEMA, "created": created}
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
    path = Path(path)
    try:
        send2trash(str(path))
    except OSError as exc:
        if exc.errno == errno.ENOENT or not path.exists():
            why = "it is no longer there"
        elif exc.errno in (errno.ENOTDIR, errno.EEXIST):
            why = "the trash folder is not a folder"
        else:
            why = _why(exc)
        raise SaveError(f"Could not move {path.name} to the trash: {why}.", exc.errno) from exc


def _why(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "Studio has no permission to change it"
    return (exc.strerror or "the system refused").rstrip(".").lower()


def _load(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
