"""The denoising film: one small preview per step, kept inside the gallery PNG.

Stored as one private ancillary chunk (`stFm`): a version byte, a JSON header and one small
animated WebP, one frame per step (identical steps merge into one longer frame). Exported as
animated WebP or GIF.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from studio.config.atomic import write_atomic
from studio.library.pngchunks import UnreadableImage, read_png_metadata

FILM_CHUNK = b"stFm"
FILM_VERSION = 1
MAX_FRAME_SIDE = 128  # stored frames are shrunk to this long side: the film stays a few KB
MAX_STEPS = 10_000
FRAME_MS = 50  # one step in the stored WebP
EXPORT_MIN_SIDE = 256  # exported frames are enlarged (nearest neighbour) to at least this
EXPORT_FORMATS = {".webp": "WEBP", ".gif": "GIF"}


class FilmError(ValueError):
    """A film that cannot be read or written; the message says why in words a person reads."""


def film_chunk(frames: Sequence[np.ndarray]) -> dict[bytes | str, bytes]:
    """The extra PNG chunk that stores `frames` (one HxWx3 uint8 per step); {} for no film."""
    if not frames:
        return {}
    return {FILM_CHUNK: encode_film(frames)}


def encode_film(frames: Sequence[np.ndarray], *, quality: int = 80) -> bytes:
    """The chunk data for one film. Each step lasts FRAME_MS in the WebP, so when the encoder
    merges (near-)identical steps into one frame, its duration still says how many it holds."""
    if not frames:
        raise FilmError("A film needs at least one frame.")
    if len(frames) > MAX_STEPS:
        raise FilmError(f"A film holds at most {MAX_STEPS:,} steps.")
    images = [_shrink(_as_image(f)) for f in frames]
    size = images[0].size
    images = [im if im.size == size else im.resize(size, Image.Resampling.BOX) for im in images]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="WEBP", save_all=True, append_images=images[1:], duration=FRAME_MS,
        loop=0, quality=quality, method=2,
    )
    header = json.dumps({"steps": len(frames), "frame_ms": FRAME_MS, "size": list(size)}).encode()
    return bytes([FILM_VERSION]) + struct.pack(">I", len(header)) + header + buffer.getvalue()


def decode_film(data: bytes) -> list[np.ndarray]:
    """One HxWx3 uint8 frame per step from chunk data; FilmError if it is damaged."""
    if len(data) < 5 or data[0] != FILM_VERSION:
        raise FilmError("The film in this image was written by a newer Studio or is damaged.")
    (length,) = struct.unpack(">I", data[1:5])
    try:
        header = json.loads(data[5 : 5 + length])
        steps, unit = int(header["steps"]), int(header["frame_ms"])
        width, height = (int(v) for v in header["size"])
    except (ValueError, KeyError, TypeError):
        raise FilmError("The film in this image is damaged (its header cannot be read).") from None
    if not (0 < steps <= MAX_STEPS and unit > 0):
        raise FilmError("The film in this image is damaged (its step count is wrong).")
    if not (0 < width <= MAX_FRAME_SIDE and 0 < height <= MAX_FRAME_SIDE):
        raise FilmError("The film in this image is damaged (its frame size is wrong).")
    out: list[np.ndarray] = []
    try:
        with Image.open(io.BytesIO(data[5 + length :]), formats=["WEBP"]) as movie:
            if movie.size != (width, height) or getattr(movie, "n_frames", 1) > steps:
                raise FilmError("The film in this image is damaged (its frames do not match).")
            for index in range(getattr(movie, "n_frames", 1)):
                movie.seek(index)
                frame = np.asarray(movie.convert("RGB"))
                out.extend([frame] * max(1, round(int(movie.info.get("duration", unit)) / unit)))
    except (OSError, EOFError, SyntaxError):
        raise FilmError("The film in this image is damaged (its frames cannot be decoded).") from None
    if len(out) != steps:
        raise FilmError("The film in this image is damaged (frames are missing).")
    return out


def read_film(path: Path) -> list[np.ndarray]:
    """The film stored in a gallery PNG, one frame per step; FilmError if it has none."""
    try:
        metadata = read_png_metadata(Path(path))
    except UnreadableImage as error:
        raise FilmError(f"{Path(path).name} cannot be read: {error}") from None
    except OSError as error:
        raise FilmError(f"{Path(path).name} cannot be opened: {error.strerror or error}") from None
    data = metadata.private.get(FILM_CHUNK)
    if data is None:
        raise FilmError(
            f"{Path(path).name} has no denoising film: only images Studio made with "
            "previews on keep one."
        )
    return decode_film(data)


def export_film(frames: Sequence[np.ndarray], out: Path, *, frame_ms: int = 80) -> Path:
    """Write the film as animated WebP or GIF (by `out`'s suffix), one frame per step.

    Frames are enlarged with nearest neighbour so small previews stay crisp; a thin bar under
    each frame shows how far the run has come.
    """
    fmt = EXPORT_FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        raise FilmError(f"Films are written as .webp or .gif, not {Path(out).suffix or 'no suffix'}.")
    if not frames:
        raise FilmError("There is no film to write: the run kept no previews.")
    images = [_with_progress(_enlarge(_as_image(f)), i + 1, len(frames)) for i, f in enumerate(frames)]
    buffer = io.BytesIO()
    options = {"lossless": True} if fmt == "WEBP" else {"optimize": False}
    images[0].save(
        buffer, format=fmt, save_all=True, append_images=images[1:], duration=frame_ms,
        loop=0, **options,
    )
    return write_atomic(Path(out), buffer.getvalue())


def _as_image(frame: np.ndarray) -> Image.Image:
    array = np.asarray(frame)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        raise FilmError("A film frame is an HxWx3 uint8 image.")
    return Image.fromarray(np.ascontiguousarray(array), "RGB")


def _shrink(image: Image.Image) -> Image.Image:
    side = max(image.size)
    if side <= MAX_FRAME_SIDE:
        return image
    width, height = (max(1, d * MAX_FRAME_SIDE // side) for d in image.size)
    return image.resize((width, height), Image.Resampling.BOX)


def _enlarge(image: Image.Image) -> Image.Image:
    factor = max(1, -(-EXPORT_MIN_SIDE // max(image.size)))
    if factor == 1:
        return image
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


def _with_progress(image: Image.Image, step: int, total: int) -> Image.Image:
    bar = max(2, image.height // 64)
    framed = Image.new("RGB", (image.width, image.height + bar), (24, 24, 24))
    framed.paste(image, (0, 0))
    framed.paste((230, 230, 230), (0, image.height, image.width * step // total, image.height + bar))
    return framed
