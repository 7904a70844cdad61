"""Text from files, made safe to show: on a terminal (no control sequences run) and in JSON
(always valid UTF-8, whatever bytes a file name holds)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

# C0 and C1 controls (ESC, BEL, CSI...), DEL, and the bidirectional overrides that reorder
# what a terminal shows; tabs and newlines are kept.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    """`text` with every control character written as a visible escape (`\\x1b`), and bytes
    that are not UTF-8 (a file name's surrogate escapes) as `\\xff`."""
    return _UNSAFE.sub(_escape, json_text(text))


def path_text(path: Path | str) -> str:
    """A path as valid text: bytes that are not UTF-8 appear as `\\xff`."""
    return json_text(os.fspath(path))


def json_text(text: str) -> str:
    """Text that encodes as UTF-8: lone surrogates (undecodable bytes) become `\\xff` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if _only_escapes(text):  # a file name: show the bytes it holds
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text

def json_safe(value: Any) -> Any:
    """A JSON-ready value with every string made valid text and every float finite (or None)."""
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {json_text(str(k)): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def _only_escapes(text: str) -> bool:
    """True when every surrogate is one `surrogateescape` makes (U+DC80 to U+DCFF)."""
    return all("\udc80" <= char <= "\udcff" for char in text if "\ud800" <= char <= "\udfff")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
