"""A value as a message may show it: bounded, whatever the value is."""

from __future__ import annotations


def shown(value: object, limit: int = 40) -> str:
    """`repr(value)`, cut short with an ellipsis (a 5,000-digit number stays one readable line)."""
    try:
        text = repr(value)
    except ValueError:  # Python refuses to print an int of more than 4,300 digits
        return "a number too long to show"
    return text if len(text) <= limit else text[: limit - 1] + "…"
