"""The header of a .safetensors add-on file: its training metadata and tensor shapes, read without
the tensors, with a bounded cost whatever the file claims."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Real LoRA headers are kilobytes to a few megabytes (kohya's tag lists are the largest part);
# a larger claim is damage or hostility, refused before a byte of it is read.
MAX_HEADER_BYTES = 100 * 1024 * 1024
_MAX_METADATA_VALUE = 16 * 1024 * 1024  # one metadata text; longer ones are dropped, not parsed


class UnreadableHeader(ValueError):
    """Why a file is not a readable .safetensors add-on, as the end of a sentence
    ("it is empty"), so that callers can say "NAME cannot be used: ..."."""


@dataclass(frozen=True)
class AddOnHeader:
    """What a .safetensors header says: `metadata` is its `__metadata__` table (text values
    only), `shapes` each tensor's shape, `data_start` where the tensor bytes begin."""

    data_start: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)


def read_addon_header(path: Path, *, max_header: int = MAX_HEADER_BYTES) -> AddOnHeader:
    """The header of `path`. Raises UnreadableHeader (damaged, cut short, not safetensors,
    a header over `max_header` bytes) or OSError (the file cannot be opened or read)."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise UnreadableHeader("the file is empty")
        raw = handle.read(8)
        if len(raw) != 8:
            raise UnreadableHeader("the file is too short to be a safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length > max_header:
            raise UnreadableHeader(
                f"its header claims {length:,} bytes, more than any LoRA or embedding needs "
                "(the file is damaged or not a safetensors file)"
            )
        if length > size - 8:
            raise UnreadableHeader("its header claims more bytes than the file has (it may be cut short)")
        text = handle.read(length)
    if len(text) != length:
        raise UnreadableHeader("the file ended while its header was read")
    try:
        table = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise UnreadableHeader("it is not a safetensors file (its header is not valid JSON)") from None
    if not isinstance(table, dict):
        raise UnreadableHeader("it is not a safetensors file (its header is not a table of tensors)")
    data_size = size - 8 - length
    metadata: dict[str, str] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for name, entry in table.items():
        if name == "__metadata__":
            metadata = _metadata(entry)
            continue
        shapes[name] = _shape(name, entry, data_size)
    return AddOnHeader(8 + length, metadata, shapes)


def _metadata(entry: object) -> dict[str, str]:
    if not isinstance(entry, dict):
        raise UnreadableHeader("its metadata is not a table")
    return {
        str(key): value
        for key, value in entry.items()
        if isinstance(value, str) and len(value) <= _MAX_METADATA_VALUE
    }


def _shape(name: str, entry: object, data_size: int) -> tuple[int, ...]:
    shown = name if name.isprintable() and len(name) <= 60 else repr(name[:60])
    if not isinstance(entry, dict):
        raise UnreadableHeader(f"the entry for {shown} is not a tensor")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if not isinstance(shape, list) or not all(_is_size(n) for n in shape):
        raise UnreadableHeader(f"the shape of {shown} is not a list of sizes")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_size(n) for n in offsets):
        raise UnreadableHeader(f"the data offsets of {shown} are not a start and an end")
    if offsets[0] > offsets[1] or offsets[1] > data_size:
        raise UnreadableHeader(f"the data of {shown} lies past the end of the file (it may be cut short)")
    return tuple(shape)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
