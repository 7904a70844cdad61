"""Colours for the prompt syntax in the prompt boxes: `(word:1.3)` weights, `[from:to:when]`
edits, `[a|b]` alternation, `BREAK`, `<lora:NAME:W>` tags (a LoRA the library lacks gets a red
wavy underline, as a misspelling would) and the library's embedding names.

One regular-expression pass per line, so typing stays cheap however long the prompt; the bracket
depth is carried from line to line in the block state.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QObject, Slot
from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from studio.ui.addon_catalogue import AddOnCatalogue
from studio.ui.prompt_tags import LORA_TAG
from studio.ui.theme import ACCENT, DIM

MAX_LINE = 20_000  # characters of one line that get colours; the rest is left plain

_TOKENS = re.compile(
    r"(?P<tag><(?:lora|lyco):[^<>\n]*>)"
    r"|(?P<escape>\\.)"
    r"|(?P<brk>\bBREAK\b)"
    r"|(?P<open>[(\[])"
    r"|(?P<close>[)\]])"
    r"|(?P<weight>:\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)\s*(?=[)\]]))"
    r"|(?P<mark>[:|])"
    r"|(?P<word>[^\W\d][\w.+-]*)",
    re.IGNORECASE,
)


def _format(color: str, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


class PromptHighlighter(QSyntaxHighlighter):
    """Highlights one prompt box; rehighlights when the library's list changes."""

    BRACKET = _format(ACCENT, bold=True)
    WEIGHT = _format("#e8b04f", bold=True)
    MARK = _format(ACCENT)
    BREAK = _format("#4fb6e8", bold=True)
    ESCAPE = _format(DIM)
    LORA = _format("#6fd39a")
    EMBEDDING = _format("#e58fd2", italic=True)

    def __init__(self, document: QTextDocument, catalogue: AddOnCatalogue, parent: QObject | None = None) -> None:
        super().__init__(parent or document)
        self.setDocument(document)
        self._catalogue = catalogue
        self.missing_lora = _format("#ff7b72")
        self.missing_lora.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
        self.missing_lora.setUnderlineColor(QColor("#ff5c5c"))
        catalogue.changed.connect(self._on_library_changed)

    def highlightBlock(self, text: str) -> None:
        depth = max(0, self.previousBlockState())
        for match in _TOKENS.finditer(text, 0, min(len(text), MAX_LINE)):
            kind = match.lastgroup
            start, length = match.start(), match.end() - match.start()
            if kind == "tag":
                tag = LORA_TAG.fullmatch(match.group())
                known = tag is not None and self._catalogue.has_lora(tag.group(2))
                self.setFormat(start, length, self.LORA if known else self.missing_lora)
            elif kind == "escape":
                self.setFormat(start, length, self.ESCAPE)
            elif kind == "brk":
                if match.group() == "BREAK":  # only the capital word is a chunk break
                    self.setFormat(start, length, self.BREAK)
            elif kind == "open":
                depth += 1
                self.setFormat(start, length, self.BRACKET)
            elif kind == "close":
                if depth:
                    depth -= 1
                    self.setFormat(start, length, self.BRACKET)
            elif kind == "weight":
                if depth:
                    self.setFormat(start, 1, self.MARK)
                    self.setFormat(start + 1, length - 1, self.WEIGHT)
            elif kind == "mark":
                if depth:
                    self.setFormat(start, length, self.MARK)
            elif self._catalogue.embedding(match.group()) is not None:
                self.setFormat(start, length, self.EMBEDDING)
        self.setCurrentBlockState(depth)

    @Slot()
    def _on_library_changed(self) -> None:
        self.rehighlight()
