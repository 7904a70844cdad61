"""Saving images: PNG with metadata inside, in dated folders, written atomically.

A saved image survives a kill at any moment and a power cut once `save_image` returns: the
file is written whole or not at all, and every folder made for it is recorded in its parent.
"""

from __future__ import annotations

import io
import re
import unicodedata
from datetime import datetime
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio import __version__
from studio.config.atomic import SaveError, describe_os_error, make_folder, write_atomic
from studio.engine.run.request import GenerationRequest
from studio.library import png_encoder
from studio.library.lineage import lineage_of, mask_chunk
from studio.library.metadata.a1111 import format_infotext
from studio.library.metadata.studio_chunk import STUDIO_KEY, studio_json
from studio.library.pngchunks import check_private_kind

APP_VERSION = f"Studio {__version__}"
PNG_COMPRESS_LEVEL = 1  # level 1 is ~4x faster than Pillow's default for ~10% larger files
SLUG_LENGTH = 48
# PNG has no premultiplied alpha; converting these to RGB would drop their transparency.
_STRAIGHT_ALPHA = {"RGBa": "RGBA", "La": "LA"}


def save_image(
    image: Image.Image,
    request: GenerationRequest,
    gallery_dir: Path,
    *,
    extra_chunks: dict[bytes | str, bytes] | None = None,
    now: datetime | None = None,
    dated: bool = True,
    server: str = "",
) -> Path:
    """Save `image` as a PNG under gallery_dir/YYYY-MM-DD/ (or straight into gallery_dir when
    not `dated`) and return its path; an existing file is never overwritten.

    The file carries a `parameters` infotext chunk, a `studio` iTXt chunk with the request,
    and any `extra_chunks` (private ancillary chunk type -> bytes). On failure raises SaveError
    (with the image attached) and leaves no partial file.
    """
    moment = now or datetime.now().astimezone()
    for kind in extra_chunks or {}:
        check_private_kind(kind)  # a wrong chunk type is a programming error: ValueError
    try:
        data = encode_png(image, request, created=moment.timestamp(), extra_chunks=extra_chunks, server=server)
    except (OSError, ValueError) as exc:  # a lazily opened file whose pixels are cut short, say
        size = f"{image.width}x{image.height} {image.mode}"
        message = f"Could not save the image: its {size} pixels could not be encoded as PNG."
        raise SaveError(message, image=image) from exc
    folder = Path(gallery_dir) / moment.strftime("%Y-%m-%d") if dated else Path(gallery_dir)
    target = folder / file_name(request, moment)
    try:
        make_folder(folder)
        return write_atomic(target, data, replace=False)
    except SaveError as exc:
        exc.image = image
        raise
    except OSError as exc:
        raise SaveError(describe_os_error(exc, target), exc.errno, image=image) from exc


def encode_png(
    image: Image.Image,
    request: GenerationRequest,
    *,
    created: float,
    extra_chunks: dict[bytes | str, bytes] | None = None,
    server: str = "",
) -> bytes:
    """The PNG file bytes for an image and the request that made it (with, for a run from a
    picture, the start image's and mask's hashes and the mask itself, read from their files)."""
    texts = [
        ("parameters", format_infotext(request, APP_VERSION)),
        (STUDIO_KEY, studio_json(request, app=APP_VERSION, created=created, lineage=lineage_of(request),
                                 server=server)),
    ]
    chunks = {**mask_chunk(request), **(extra_chunks or {})}
    private = [(check_private_kind(kind), bytes(payload)) for kind, payload in chunks.items()]
    if image.mode in _STRAIGHT_ALPHA:
        image = image.convert(_STRAIGHT_ALPHA[image.mode])
    elif image.mode not in ("RGB", "RGBA", "L", "LA", "P", "I;16"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if png_encoder.can_encode(image):
        return png_encoder.encode(image, texts, private, level=PNG_COMPRESS_LEVEL)
    info = PngInfo()
    info.add_text(texts[0][0], texts[0][1])
    info.add_itxt(texts[1][0], texts[1][1])
    for kind, payload in private:
        info.add(kind, payload)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info, compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()


def file_name(request: GenerationRequest, moment: datetime) -> str:
    """A readable name: 2024-05-01_13-45-02_seed1234_a-red-fox-in-the-snow.png"""
    seed = f"_seed{request.seed}" if request.seed is not None else ""
    slug = slugify(request.prompt) or "untitled"
    return f"{moment.strftime('%Y-%m-%d_%H-%M-%S')}{seed}_{slug}.png"


def slugify(text: str, limit: int = SLUG_LENGTH) -> str:
    """Lower-case words joined by '-', letters of any script kept, cut at a word boundary."""
    text = unicodedata.normalize("NFKC", text).casefold()
    words = [w for w in re.split(r"[\W_]+", text) if w]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > limit:
            break
        slug = candidate
    if not slug and words:
        slug = words[0][:limit]
    return slug
