"""A disk cache of thumbnails, keyed by the image's path, size and modification time.

Safe to call from any thread and from several processes: each thumbnail is written to a
temporary file and renamed into place, and nothing is shared in memory. The UI turns the
returned path into a QImage off the GUI thread.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from studio.config.atomic import SaveError, write_atomic
from studio.library.pillow import open_image
from studio.library.pngchunks import UnreadableImage

THUMBNAIL_SUFFIX = ".jpg"  # JPEG: several times faster than PNG to encode and to decode
JPEG_QUALITY = 85
log = logging.getLogger(__name__)


class ThumbnailCache:
    """Thumbnails under `cache_dir`, one file per (image path, size, mtime, file size)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir)

    def cache_path(self, image_path: Path, size: int) -> Path | None:
        """Where the thumbnail for the image as it is now belongs; None if the image is gone."""
        try:
            stat = os.stat(image_path)
        except OSError:
            return None
        key = f"{Path(image_path).absolute()}\0{size}\0{stat.st_mtime_ns}\0{stat.st_size}"
        digest = hashlib.sha1(key.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest}{THUMBNAIL_SUFFIX}"

    def lookup(self, image_path: Path, size: int) -> Path | None:
        """The cached thumbnail if there is a current one (cheap: two stat calls)."""
        cached = self.cache_path(image_path, size)
        if cached is None:
            return None
        try:
            return cached if cached.stat().st_size > 0 else None
        except OSError:
            return None

    def get(self, image_path: Path, size: int) -> Path:
        """The thumbnail, made now if it is not cached. UnreadableImage if the image is refused."""
        found = self.lookup(image_path, size)
        if found is not None:
            return found
        return self.make(image_path, size)

    def make(self, image_path: Path, size: int) -> Path:
        """Make and cache the thumbnail (fitting in size x size); return its path."""
        cached = self.cache_path(image_path, size)
        if cached is None:
            raise UnreadableImage(f"{image_path} no longer exists.")
        data = thumbnail_bytes(Path(image_path), size)
        try:
            # A cache: not fsynced (a thumbnail lost in a crash is simply made again).
            return write_atomic(cached, data, durable=False)
        except SaveError as exc:
            raise UnreadableImage(f"Could not store the thumbnail: {exc}") from exc


def thumbnail_bytes(image_path: Path, size: int) -> bytes:
    """JPEG bytes of a thumbnail that fits in size x size, made with draft/reduce for speed.

    UnreadableImage, naming the file, for anything Pillow cannot decode: its decoders raise
    many kinds of error for damaged data (IndexError, struct.error, EOFError, ...), not only
    OSError, and every one of them means "this file is damaged" to the person looking.
    """
    name = Path(image_path).name
    try:
        with open_image(image_path) as image:
            image.draft("RGB", (size, size))  # JPEG: decode at 1/2, 1/4 or 1/8 scale
            image.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
            picture = _flatten(image)
    except UnreadableImage:
        raise
    except UnidentifiedImageError:
        raise UnreadableImage(f"{name} could not be read: it is not an image Studio knows.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImage(f"{name} could not be read: {exc}") from None
    except Exception:
        log.debug("Pillow could not decode %s", image_path, exc_info=True)
        raise UnreadableImage(f"{name} could not be read: its image data is damaged.") from None
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency over a mid grey (visible on light and dark themes)."""
    if image.mode == "RGB":
        return image.copy()
    if "A" in image.getbands() or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        base = Image.new("RGB", rgba.size, (128, 128, 128))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return image.convert("RGB")
