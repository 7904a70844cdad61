"""Where a picture made from another came from: the start image and mask, by path and content
hash in the studio chunk, and the mask itself in a private PNG chunk, so that reusing the
picture brings the mask back even when the mask file is gone."""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path
from typing import Any

from PIL import Image

from studio.config.atomic import write_atomic
from studio.engine.run.request import GenerationRequest
from studio.library.metadata.model import ImageMetadata
from studio.library.pillow import open_image
from studio.library.pngchunks import UnreadableImage, read_png_metadata

MASK_CHUNK = b"stMk"
_HASHED_BYTES = 512 * 1024 * 1024  # a start image past this is recorded by path only


def lineage_of(request: GenerationRequest) -> dict[str, Any]:
    """{"start_image": {"path", "sha256"}, "mask": {...}} for the files `request` names."""
    found: dict[str, Any] = {}
    for name in ("start_image", "mask"):
        path = getattr(request, name)
        if path:
            found[name] = {"path": path, "sha256": file_hash(Path(path))}
    return found


def file_hash(path: Path) -> str | None:
    """The SHA-256 of a file's bytes, or None when it cannot be read or is too large to hash."""
    digest = hashlib.sha256()
    try:
        if path.stat().st_size > _HASHED_BYTES:
            return None
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def mask_chunk(request: GenerationRequest) -> dict[bytes | str, bytes]:
    """The request's mask as a greyscale PNG in a private chunk, or nothing when there is none
    (or it can no longer be read: the path and hash in the studio chunk still say what it was)."""
    if not request.mask:
        return {}
    try:
        with open_image(Path(request.mask)) as picture:
            grey = picture.convert("L")
    except (UnreadableImage, OSError, ValueError, SyntaxError):
        return {}
    buffer = io.BytesIO()
    grey.save(buffer, format="PNG", optimize=True)
    return {MASK_CHUNK: buffer.getvalue()}


def restore_mask(image_path: Path, folder: Path) -> Path | None:
    """The mask stored in `image_path`, written (once, by its content) into `folder`; None
    when the picture keeps no mask or it cannot be read."""
    try:
        data = read_png_metadata(Path(image_path)).private.get(MASK_CHUNK)
    except (UnreadableImage, OSError):
        return None
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as picture:
            picture.verify()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    target = Path(folder) / f"mask-{hashlib.sha256(data).hexdigest()[:16]}.png"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    return target


def with_restored_mask(meta: ImageMetadata, image_path: Path, folder: Path) -> ImageMetadata:
    """`meta` whose request's mask, when its file is gone, is the copy kept in the picture
    (written into `folder`); `meta` itself when there is nothing to restore."""
    request = meta.request
    if request is None or not request.mask or Path(request.mask).is_file():
        return meta
    restored = restore_mask(image_path, folder)
    if restored is None:
        return meta
    return dataclasses.replace(meta, request=request.replace(mask=str(restored)))
