"""PNG chunks read and written by hand, with limits: metadata never costs more than it should.

Pillow is not used for text chunks because its limits are process-wide settings; here every
chunk length is checked against the file size and every compressed chunk against a budget.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_TEXT_CHUNK = 8 * 1024 * 1024  # stored bytes of one text chunk
MAX_TEXT_DECOMPRESSED = 8 * 1024 * 1024  # one compressed text chunk, once inflated
MAX_TEXT_TOTAL = 32 * 1024 * 1024  # all text of one file
MAX_PRIVATE_CHUNK = 64 * 1024 * 1024
MAX_PIXELS = 16384 * 16384
TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")


class UnreadableImage(ValueError):
    """A file that is refused; the message says why, in words a person reads."""


@dataclass
class PngMetadata:
    """What the chunks of a PNG say, without decoding its pixels."""

    width: int
    height: int
    texts: dict[str, str] = field(default_factory=dict)
    private: dict[bytes, bytes] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RawChunk:
    kind: bytes
    data: bytes


def iter_chunks(
    fh: BinaryIO, file_size: int, *, skip_kinds: tuple[bytes, ...] = ()
) -> Iterator[tuple[bytes, int, bytes | None]]:
    """(kind, length, data) for each chunk; data is None for kinds in `skip_kinds` (not read).

    Raises UnreadableImage for a bad signature, a chunk running past the end, or a missing IEND.
    """
    if file_size == 0:
        raise UnreadableImage("The file is empty.")
    if fh.read(8) != PNG_SIGNATURE:
        raise UnreadableImage("This is not a PNG image.")
    offset = 8
    while True:
        header = fh.read(8)
        if len(header) < 8:
            raise UnreadableImage("The PNG file is truncated (it ends before its last chunk).")
        length, kind = struct.unpack(">I4s", header)
        end = offset + 8 + length + 4
        if end > file_size:
            raise UnreadableImage(f"The PNG file is truncated (a {_name(kind)} chunk runs past the end of the file).")
        if kind in skip_kinds:
            fh.seek(length + 4, 1)
            yield kind, length, None
        else:
            data = fh.read(length)
            crc = fh.read(4)
            if struct.unpack(">I", crc)[0] != zlib.crc32(kind + data):
                raise UnreadableImage(f"The PNG file is damaged (bad checksum in a {_name(kind)} chunk).")
            yield kind, length, data
        offset = end
        if kind == b"IEND":
            return


def read_png_metadata(path: Path, *, max_private: int = MAX_PRIVATE_CHUNK) -> PngMetadata:
    """Size, text chunks and private ancillary chunks of a PNG; UnreadableImage if refused."""
    with open(path, "rb") as fh:
        file_size = _size(fh)
        chunks = iter_chunks(fh, file_size, skip_kinds=(b"IDAT",))
        first = next(chunks)
        if first[0] != b"IHDR" or first[2] is None or len(first[2]) != 13:
            raise UnreadableImage("The PNG file is damaged (it does not start with a header).")
        width, height = struct.unpack(">II", first[2][:8])
        if width == 0 or height == 0:
            raise UnreadableImage("The PNG image has no pixels (its width or height is zero).")
        if width * height > MAX_PIXELS:
            raise UnreadableImage(
                f"The image is {width}x{height} pixels, more than Studio opens ({MAX_PIXELS:,} pixels at most)."
            )
        result = PngMetadata(width, height)
        text_total = 0
        saw_idat = False
        for kind, length, data in chunks:
            if kind == b"IDAT":
                saw_idat = True
                continue
            if data is None or kind[0:1].isupper():
                continue
            if kind in TEXT_TYPES:
                if length > MAX_TEXT_CHUNK:
                    raise UnreadableImage(
                        f"A text chunk of {length:,} bytes is larger than Studio reads "
                        f"({MAX_TEXT_CHUNK:,} bytes at most)."
                    )
                key, text = decode_text_chunk(kind, data)
                text_total += len(text)
                if text_total > MAX_TEXT_TOTAL:
                    raise UnreadableImage("The text in this PNG is larger than Studio reads.")
                if key in result.texts:
                    result.problems.append(f"The text chunk {key!r} appears twice; the first is used.")
                else:
                    result.texts[key] = text
            elif kind[1:2].islower() and length <= max_private:
                result.private[kind] = data
        if not saw_idat:
            raise UnreadableImage("The PNG file has no image data.")
        return result


def decode_text_chunk(kind: bytes, data: bytes) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk; UnreadableImage for bombs."""
    key_bytes, sep, rest = data.partition(b"\0")
    if not sep or not 1 <= len(key_bytes) <= 79:
        raise UnreadableImage("The PNG file has a damaged text chunk (no keyword).")
    key = key_bytes.decode("latin-1")
    if kind == b"tEXt":
        return key, rest.decode("latin-1")
    if kind == b"zTXt":
        return key, _inflate(rest[1:], key).decode("latin-1")
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    if len(rest) < 2:
        raise UnreadableImage(f"The PNG file has a damaged text chunk {key!r}.")
    compressed = rest[0] == 1
    _lang, _, rest2 = rest[2:].partition(b"\0")
    _translated, _, body = rest2.partition(b"\0")
    raw = _inflate(body, key) if compressed else body
    return key, raw.decode("utf-8", errors="replace")


def encode_itxt(key: str, text: str) -> bytes:
    """The data of an uncompressed iTXt chunk."""
    return key.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")


def read_raw_chunks(path: Path) -> list[RawChunk]:
    """Every chunk of a PNG, in order, with its data (for rewriting a file's metadata)."""
    with open(path, "rb") as fh:
        file_size = _size(fh)
        return [RawChunk(kind, data) for kind, _, data in iter_chunks(fh, file_size) if data is not None]


def write_chunks(chunks: list[RawChunk]) -> bytes:
    """A PNG file made of these chunks."""
    parts = [PNG_SIGNATURE]
    for chunk in chunks:
        parts.append(struct.pack(">I4s", len(chunk.data), chunk.kind))
        parts.append(chunk.data)
        parts.append(struct.pack(">I", zlib.crc32(chunk.kind + chunk.data)))
    return b"".join(parts)


def check_private_kind(kind: bytes | str) -> bytes:
    """A chunk type a caller may add: four ASCII letters, ancillary, not a text chunk."""
    raw = kind.encode("ascii") if isinstance(kind, str) else bytes(kind)
    if len(raw) != 4 or not raw.isalpha():
        raise ValueError(f"A PNG chunk type is four ASCII letters, not {kind!r}.")
    if raw[0:1].isupper():
        raise ValueError(f"Chunk {kind!r} would be critical; extra chunks must be ancillary.")
    if raw in TEXT_TYPES or raw == b"iTXt":
        raise ValueError("Text goes in the request and metadata, not in an extra chunk.")
    return raw


def _inflate(data: bytes, key: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_TEXT_DECOMPRESSED)
    except zlib.error:
        raise UnreadableImage(f"The compressed text chunk {key!r} is damaged.") from None
    if inflater.unconsumed_tail:
        raise UnreadableImage(
            f"The compressed text chunk {key!r} inflates past {MAX_TEXT_DECOMPRESSED:,} bytes "
            "(a decompression bomb); it is not read."
        )
    return out


def _size(fh: BinaryIO) -> int:
    fh.seek(0, 2)
    size = fh.tell()
    fh.seek(0)
    return size


def _name(kind: bytes) -> str:
    return kind.decode("ascii", errors="replace")
