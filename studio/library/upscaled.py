"""An upscaled copy of an image: the pixels enlarged, the source's metadata kept, and how it
was enlarged said the way AUTOMATIC1111's extras tab says it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from PIL import Image

from studio.config.atomic import SaveError, describe_os_error, make_folder, write_atomic
from studio.library import png_encoder
from studio.library.pngchunks import UnreadableImage, read_png_metadata
from studio.library.store import PNG_COMPRESS_LEVEL, slugify

POSTPROCESSING_KEY = "postprocessing"
_KEPT_KEYS = ("parameters", "studio")  # what made the picture still describes its larger copy


def postprocessing_text(scale: float, upscaler: str) -> str:
    return f"Postprocess upscale by: {scale:g}, Postprocess upscaler: {upscaler}"


def upscaled_name(source: Path, scale: float, upscaler: str) -> str:
    return f"{slugify(source.stem) or 'image'}_{scale:g}x_{slugify(upscaler) or 'upscaled'}.png"


def save_upscaled(
    image: Image.Image, source: Path, scale: float, upscaler: str, folder: Path, *, dated: bool = True,
) -> Path:
    """Write `image`, the upscaled `source`, as a PNG under `folder` (in a dated subfolder when
    `dated`), never over an existing file; SaveError on failure, with no partial file left."""
    texts = [*_kept_texts(source), (POSTPROCESSING_KEY, postprocessing_text(scale, upscaler))]
    if not png_encoder.can_encode(image):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    data = png_encoder.encode(image, texts, [], level=PNG_COMPRESS_LEVEL)
    where = Path(folder) / datetime.now().astimezone().strftime("%Y-%m-%d") if dated else Path(folder)
    target = where / upscaled_name(source, scale, upscaler)
    try:
        make_folder(where)
        return write_atomic(target, data, replace=False)
    except SaveError:
        raise
    except OSError as error:
        raise SaveError(describe_os_error(error, target), error.errno) from error


def _kept_texts(source: Path) -> list[tuple[str, str]]:
    """The source's generation metadata, when it is a PNG that has some; nothing otherwise
    (a JPEG or a picture from elsewhere is upscaled all the same)."""
    try:
        found = read_png_metadata(source)
    except (UnreadableImage, OSError):
        return []
    return [(key, found.texts[key]) for key in _KEPT_KEYS if key in found.texts]
