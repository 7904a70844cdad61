"""Numbers and JSON from files, read with limits: no value costs more than it should to read,
and none outside what the index and the request can hold gets past `check_numbers`."""

from __future__ import annotations

import json
import math
from typing import NamedTuple

MAX_DIGITS = 40  # past any 128-bit number; int() of 4,300 digits and more is refused by Python
SEED_RANGE = (0, 2**64 - 1)  # ComfyUI seeds are 64-bit; Studio's own are 32-bit
STEPS_RANGE = (1, 10_000)
SIDE_RANGE = (1, 65_536)
GUIDANCE_LIMIT = 1000.0
CREATED_RANGE = (0.0, 253_402_300_799.0)  # the epoch to the end of year 9999
RATING_RANGE = (0, 5)
SHOWN_CHARS = 40


class LongNumber(NamedTuple):
    """A number written with more digits than Studio reads; only its length is kept."""

    digits: int


def as_int(value: object) -> int | None:
    """An int from an int, a float with no fraction, or digits in text; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        if digits.isdigit() and digits.isascii() and len(digits) <= MAX_DIGITS:
            return int(text)
    return None


def as_float(value: object) -> float | None:
    """A finite float from a number or text; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        result = float(value) if abs(value) < 2**1000 else math.inf
    elif isinstance(value, float):
        result = value
    elif isinstance(value, str) and len(value) <= 2 * MAX_DIGITS:
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def as_text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def digit_count(value: object) -> int | None:
    """How many digits a number too long to read has, or None for anything else."""
    if isinstance(value, LongNumber):
        return value.digits
    if isinstance(value, str):
        digits = value.strip().removeprefix("-")
        if len(digits) > MAX_DIGITS and digits.isdigit():
            return len(digits)
    return None


def shown(value: object) -> str:
    """A value as a note quotes it: repr, cut to a few dozen characters."""
    if isinstance(value, LongNumber):
        return f"a number of {value.digits:,} digits"
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        digits = digit_count(value)
        if digits is not None:
            return f"a number of {digits:,} digits"
        return repr(value[:SHOWN_CHARS] + "…")
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def load_json(text: str) -> object:
    """JSON with long numbers kept as LongNumber and non-numbers (NaN) as NaN; None if invalid."""
    try:
        return json.loads(text, parse_int=_json_int)
    except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
        return None


def _json_int(text: str) -> int | LongNumber:
    digits = len(text.removeprefix("-"))
    return int(text) if digits <= MAX_DIGITS else LongNumber(digits)


def in_range(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]
