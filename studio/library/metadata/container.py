"""The metadata text inside PNG, JPEG and WebP files, read with limits before anything is parsed."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from PIL import UnidentifiedImageError

from studio.library.pillow import open_image
from studio.library.pngchunks import (
    MAX_TEXT_CHUNK,
    PNG_SIGNATURE,
    UnreadableImage,
    read_png_metadata,
)

USER_COMMENT = 0x9286
EXIF_IFD = 0x8769
_CHARSETS = {
    b"ASCII\0\0\0": "ascii",
    b"UNICODE\0": "utf-16",
    b"JIS\0\0\0\0\0": "shift_jis",
    b"\0\0\0\0\0\0\0\0": "undefined",
}


@dataclass
class FileText:
    """The text entries of one image file, by key, with its format and size."""

    format: str
    width: int
    height: int
    texts: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_file_text(path: Path) -> FileText:
    """Text entries of a PNG, JPEG or WebP; UnreadableImage with a reason if the file is refused."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a pipe or a device would block or never end
            raise UnreadableImage("This is not a regular file.")
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise UnreadableImage(f"Could not open the file: {exc.strerror or 'the system refused'}.") from exc
    if not head:
        raise UnreadableImage("The file is empty.")
    if head.startswith(PNG_SIGNATURE):
        png = read_png_metadata(path)
        return FileText("PNG", png.width, png.height, png.texts, png.problems)
    if head.startswith(b"\xff\xd8\xff"):
        return _read_with_pillow(path, "JPEG")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _read_with_pillow(path, "WEBP")
    raise UnreadableImage("This is not an image Studio reads (PNG, JPEG or WebP).")


def decode_user_comment(raw: bytes | str) -> str:
    """EXIF UserComment: an 8-byte charset prefix, then text (UTF-16 of either byte order)."""
    if isinstance(raw, str):
        return raw.strip("\0")
    prefix, body = raw[:8], raw[8:]
    charset = _CHARSETS.get(prefix)
    if charset is None:
        body = raw
        charset = "undefined"
    if charset == "utf-16":
        return _decode_utf16(body)
    if charset == "shift_jis":
        return body.decode("shift_jis", errors="replace").strip("\0")
    if charset == "undefined" and len(body) >= 2 and (body[0] == 0 or body[1] == 0):
        return _decode_utf16(body)
    return body.decode("utf-8", errors="replace").strip("\0")


def _decode_utf16(body: bytes) -> str:
    if body.startswith(b"\xfe\xff"):
        return body[2:].decode("utf-16-be", errors="replace").strip("\0")
    if body.startswith(b"\xff\xfe"):
        return body[2:].decode("utf-16-le", errors="replace").strip("\0")
    # No byte order mark: ASCII-range text has its zero byte first in big-endian.
    sample = body[:200]
    big = sum(1 for i in range(0, len(sample) - 1, 2) if sample[i] == 0 and sample[i + 1] != 0)
    little = sum(1 for i in range(0, len(sample) - 1, 2) if sample[i + 1] == 0 and sample[i] != 0)
    codec = "utf-16-le" if little > big else "utf-16-be"
    return body.decode(codec, errors="replace").strip("\0")


def _read_with_pillow(path: Path, kind: str) -> FileText:
    _check_complete(path, kind)
    try:
        image = open_image(path, formats=[kind])  # Pillow's process settings are configure_pillow's
    except UnreadableImage:
        raise  # it names the file and the pixel budget
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnreadableImage(f"The {kind} file is damaged.") from None
    with image:
        width, height = image.size
        result = FileText(kind, width, height)
        raw_exif = image.info.get("exif")
        if isinstance(raw_exif, bytes) and len(raw_exif) > MAX_TEXT_CHUNK:
            raise UnreadableImage("The EXIF data in this image is larger than Studio reads.")
        try:
            comment = image.getexif().get_ifd(EXIF_IFD).get(USER_COMMENT)
        except Exception as exc:  # Pillow raises many kinds for bad EXIF; the pixels may be fine
            comment = None
            result.problems.append(f"The EXIF data could not be read ({type(exc).__name__}).")
        if isinstance(comment, bytes | str) and comment:
            result.texts["parameters"] = decode_user_comment(comment)
        jpeg_comment = image.info.get("comment")
        if isinstance(jpeg_comment, bytes) and "parameters" not in result.texts:
            result.texts["parameters"] = jpeg_comment.decode("utf-8", errors="replace")
        return result


def _check_complete(path: Path, kind: str) -> None:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        if kind == "JPEG":
            fh.seek(max(0, size - 1024))
            if b"\xff\xd9" not in fh.read():
                raise UnreadableImage("The JPEG file is truncated (it has no end-of-image marker).")
        else:
            header = fh.read(8)
            declared = int.from_bytes(header[4:8], "little") + 8
            if declared > size:
                raise UnreadableImage("The WebP file is truncated (it is shorter than it says).")
