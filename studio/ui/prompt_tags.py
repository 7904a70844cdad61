"""Writing LoRA tags and words into a prompt box: insert at the cursor, or change the weight of
a tag already there, as one undo step each."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from studio.engine.prompting.lora_tags import LORA_TAG_PATTERN as LORA_TAG


@dataclass(frozen=True)
class TagSpan:
    """Where one `<lora:NAME:W>` lies in a text; the weight span is empty (at the `>`) when the
    tag has no weight."""

    start: int
    end: int
    name: str
    weight_start: int
    weight_end: int


def lora_tags(text: str) -> list[TagSpan]:
    spans = []
    for match in LORA_TAG.finditer(text):
        if match.group(3) is not None:
            weight_start, weight_end = match.start(3), match.end(3)
        else:
            weight_start = weight_end = match.end() - 1
        spans.append(TagSpan(match.start(), match.end(), match.group(2).strip(), weight_start, weight_end))
    return spans


def find_lora_tag(text: str, name: str) -> TagSpan | None:
    """The first tag naming `name` (any letter case), or None."""
    wanted = name.strip().lower()
    return next((span for span in lora_tags(text) if span.name.lower() == wanted), None)


def tag_weight(text: str, span: TagSpan) -> float | None:
    """The weight written in the tag (1 when none is written); None when it is not a number."""
    written = text[span.weight_start:span.weight_end].strip()
    if not written:
        return 1.0
    try:
        return float(written)
    except ValueError:
        return None


def format_weight(weight: float) -> str:
    """0.7 -> "0.7", 1.0 -> "1", -0.25 -> "-0.25": as artists write it."""
    text = f"{weight:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def lora_tag(name: str, weight: float) -> str:
    return f"<lora:{name}:{format_weight(weight)}>"


def spaced(text: str, position: int, snippet: str, *, comma: bool) -> tuple[int, str]:
    """(start, replacement): what to put over text[start:position] so that `snippet` stands
    apart at `position`, separated by a space, or by ", " for a word of the prompt."""
    before, after = text[:position], text[position:]
    stripped = before.rstrip(" \t")
    opener = (",", "(", "[", "|", ":", "\n")
    lead = ""
    start = position
    if stripped and not stripped.endswith("\n"):
        if comma and not stripped.endswith(opener):
            start, lead = len(stripped), ", "  # "a cat " + word -> "a cat, word"
        elif not before[-1].isspace():
            lead = " "
    trail = ""
    if comma:
        following = after.lstrip(" \t")[:1]
        if following not in ("", ",", ")", "]", "|", ">", "\n"):
            trail = "," if after[0].isspace() else ", "
    elif after and not after[0].isspace() and after[0] not in ",)]>|":
        trail = " "
    return start, lead + snippet + trail


def insert_lora(edit: QPlainTextEdit, name: str, weight: float) -> bool:
    """Put `<lora:name:weight>` at the cursor, or set the weight of the tag already naming it
    (the engine would keep only the last one). Returns True when an existing tag was changed."""
    if set_lora_weight(edit, name, weight):
        return True
    text = edit.toPlainText()
    _insert(edit, *spaced(text, _cursor_start(edit), lora_tag(name, weight), comma=False))
    return False


def set_lora_weight(edit: QPlainTextEdit, name: str, weight: float) -> bool:
    """Change the weight of the tag naming `name` if there is one; False when there is none."""
    span = find_lora_tag(edit.toPlainText(), name)
    if span is None:
        return False
    written = format_weight(weight)
    if span.weight_start == span.weight_end:  # `<lora:name>`: the weight needs its colon
        written = ":" + written
    cursor = edit.textCursor()
    cursor.setPosition(span.weight_start)
    cursor.setPosition(span.weight_end, QTextCursor.MoveMode.KeepAnchor)
    cursor.insertText(written)
    return True


def embedding_word(name: str, weight: float) -> str:
    """An embedding as the prompt writes it: its name, in `(name:w)` when weighted."""
    return name if abs(weight - 1.0) < 1e-9 else f"({name}:{format_weight(weight)})"


def add_word(edit: QPlainTextEdit, word: str) -> bool:
    """Add `word` at the cursor as a word of the prompt (comma-separated); False (and nothing
    added) when the prompt has it already as a whole word."""
    text = edit.toPlainText()
    if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text, re.IGNORECASE):
        return False
    _insert(edit, *spaced(text, _cursor_start(edit), word, comma=True))
    return True


def _cursor_start(edit: QPlainTextEdit) -> int:
    """Where an insertion goes: the cursor, or the start of the selection, which it replaces."""
    cursor = edit.textCursor()
    if cursor.hasSelection():
        cursor.removeSelectedText()
        edit.setTextCursor(cursor)
    return cursor.position()


def _insert(edit: QPlainTextEdit, start: int, replacement: str) -> None:
    """Write `replacement` over text[start:cursor] and leave the cursor after it."""
    cursor = edit.textCursor()
    end = cursor.position()
    cursor.setPosition(start)
    cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    cursor.insertText(replacement)
    edit.setTextCursor(cursor)
