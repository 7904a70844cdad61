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
from typing import TypeGuard

import numpy as np
from PIL import Image

from studio.config.atomic import write_atomic
from studio.library.pngchunks import UnreadableImage, read_png_metadata

FILM_CHUNK = b"stFm"
FILM_VERSION = 1
MAX_FRAME_SIDE = 128  # stored frames are shrunk to this long side: the film stays a few KB
MAX_STEPS = 10_000
FRAME_MS = 50  # one step in the stored WebP
MAX_FRAME_MS = 10_000
MAX_DECODED_PIXELS = 2**25  # distinct frames of one film, decoded: about 100 MB of RGB at most
MAX_EXPORT_PIXELS = 2**27  # every exported frame of one film, enlarged, before it is encoded
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
    steps, unit, width, height = _read_header(data[5 : 5 + length])
    out: list[np.ndarray] = []
    try:
        with Image.open(io.BytesIO(data[5 + length :]), formats=["WEBP"]) as movie:
            count = getattr(movie, "n_frames", 1)
            # Checked before any frame is decoded: what the header and the WebP claim must fit.
            if movie.size != (width, height) or count > steps:
                raise FilmError("The film in this image is damaged (its frames do not match).")
            if count * width * height > MAX_DECODED_PIXELS:
                raise FilmError("The film in this image is damaged (it holds more frames than a film can).")
            for index in range(count):
                movie.seek(index)
                frame = np.asarray(movie.convert("RGB"))  # one small frame; the duration is set on load
                duration = movie.info.get("duration", unit)
                repeats = max(1, round(duration / unit)) if isinstance(duration, int | float) else 1
                if len(out) + repeats > steps:  # a frame claiming hours: refused before it is copied
                    raise FilmError("The film in this image is damaged (its frames last longer than its steps).")
                out.extend([frame] * repeats)
    except (OSError, EOFError, SyntaxError, ValueError) as error:
        if isinstance(error, FilmError):
            raise
        raise FilmError("The film in this image is damaged (its frames cannot be decoded).") from None
    if len(out) != steps:
        raise FilmError("The film in this image is damaged (frames are missing).")
    return out


def _read_header(raw: bytes) -> tuple[int, int, int, int]:
    """(steps, frame_ms, width, height) from the film's JSON header, each checked."""
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):  # also int() of thousands of digits
        header = None
    if not isinstance(header, dict) or not isinstance(header.get("size"), list) or len(header["size"]) != 2:
        raise FilmError("The film in this image is damaged (its header cannot be read).")
    steps, unit = header.get("steps"), header.get("frame_ms")
    width, height = header["size"]
    if not (_whole(steps) and 0 < steps <= MAX_STEPS and _whole(unit) and 0 < unit <= MAX_FRAME_MS):
        raise FilmError("The film in this image is damaged (its step count is wrong).")
    if not (_whole(width) and _whole(height) and 0 < width <= MAX_FRAME_SIDE and 0 < height <= MAX_FRAME_SIDE):
        raise FilmError("The film in this image is damaged (its frame size is wrong).")
    return steps, unit, width, height


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


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
    first = _enlarge(_as_image(frames[0]))
    if len(frames) * first.width * (first.height + max(2, first.height // 64)) > MAX_EXPORT_PIXELS:
        raise FilmError(f"The film is too long to write ({len(frames):,} steps of {first.width}x{first.height}).")
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
