"""Name completion in a prompt box: after `<lora:` the library's LoRA names, filtered as one
types; a word that begins an embedding's name offers the embedding.

A small list beside the cursor that never takes the focus: the box keeps the keyboard, and this
filter on it steers the list (Up, Down, Enter or Tab to take a name, Esc to close). A QCompleter
popup would take the keys and send them on past the box's event filters, so Enter would also
break the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import QListWidget, QPlainTextEdit

from studio.ui.addon_catalogue import AddOnCatalogue

MAX_SHOWN = 200  # names in the list; typing more narrows it
VISIBLE_ROWS = 8
MIN_WORD = 2  # letters typed before embedding names are offered

_LORA_START = re.compile(r"<(?:lora|lyco):([^:<>\n]*)$", re.IGNORECASE)
_WORD_END = re.compile(r"[^\W\d][\w.+-]*$")
_REST_OF_NAME = re.compile(r"[^:<>\n]*(?=[:>])")


@dataclass(frozen=True)
class Completing:
    """What is being completed: the kind, where the typed part starts, and the typed part."""

    kind: str  # "lora" or "embedding"
    start: int
    typed: str


def completing(text: str, position: int) -> Completing | None:
    """What the text before `position` (on its line) asks to complete, if anything."""
    line_start = text.rfind("\n", 0, position) + 1
    before = text[line_start:position]
    match = _LORA_START.search(before)
    if match:
        return Completing("lora", line_start + match.start(1), match.group(1))
    match = _WORD_END.search(before)
    if match and len(match.group()) >= MIN_WORD and "<" not in before[max(0, match.start() - 1):match.start()]:
        return Completing("embedding", line_start + match.start(), match.group())
    return None


def matching(names: list[str], typed: str, *, exact_hides: bool = False) -> list[str]:
    """Names that begin with `typed` (any letter case), then those that contain it."""
    lower = typed.lower()
    starts = [n for n in names if n.lower().startswith(lower)]
    contains = [n for n in names if lower in n.lower() and not n.lower().startswith(lower)] if lower else []
    found = starts + contains
    if exact_hides and any(n.lower() == lower for n in found):
        return []  # the word is written out already
    return found[:MAX_SHOWN]


class NameCompletion(QObject):
    """Completes LoRA and embedding names in `edit` from `catalogue`."""

    def __init__(self, edit: QPlainTextEdit, catalogue: AddOnCatalogue) -> None:
        super().__init__(edit)
        self.edit = edit
        self._catalogue = catalogue
        self._context: Completing | None = None
        self._typed = False
        # a child of the box's window rather than a window of its own: it shows over the panel
        # without a window manager's say, and goes with the window
        self.popup = QListWidget(edit)
        self.popup.setObjectName("CompletionPopup")
        self.popup.hide()
        self.popup.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.popup.setUniformItemSizes(True)
        self.popup.itemClicked.connect(lambda item: self.accept(item.text()))
        edit.installEventFilter(self)
        edit.textChanged.connect(self._on_text_changed)
        edit.cursorPositionChanged.connect(self._on_cursor_moved)

    def names(self) -> list[str]:
        return [self.popup.item(i).text() for i in range(self.popup.count())]

    def visible(self) -> bool:
        return self.popup.isVisible()

    def update(self) -> None:
        """Offer what the text before the cursor asks for, or close the list."""
        cursor = self.edit.textCursor()
        context = completing(self.edit.toPlainText(), cursor.position()) if not cursor.hasSelection() else None
        names: list[str] = []
        if context is not None and context.kind == "lora":
            names = matching(self._catalogue.lora_names(), context.typed)
        elif context is not None:
            names = matching(self._catalogue.embedding_names(), context.typed, exact_hides=True)
        self._context = context if names else None
        if not names:
            self.hide()
            return
        if names != self.names():
            self.popup.clear()
            self.popup.addItems(names)
        self.popup.setCurrentRow(0)
        self._place()
        self.popup.show()
        self.popup.raise_()

    def hide(self) -> None:
        self._context = None
        self.popup.hide()

    def accept(self, name: str) -> None:
        """Write `name` over what was typed. A LoRA becomes `<lora:NAME:1>` with the weight
        selected, so typing a number sets it; inside an existing tag only the name changes."""
        context = self._context
        self.hide()
        if context is None:
            return
        text = self.edit.toPlainText()
        cursor = self.edit.textCursor()
        end = cursor.position()
        cursor.beginEditBlock()
        if context.kind == "lora":
            rest = _REST_OF_NAME.match(text, end)
            if rest is not None:  # editing the name of a tag that is already closed
                end = rest.end()
                self._write(cursor, context.start, end, name)
            else:
                self._write(cursor, context.start, end, f"{name}:1>")
                weight = cursor.position() - 2
                cursor.setPosition(weight)
                cursor.setPosition(weight + 1, QTextCursor.MoveMode.KeepAnchor)
        else:
            self._write(cursor, context.start, end, name)
        cursor.endEditBlock()
        self.edit.setTextCursor(cursor)

    # -- events ------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit:
            if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
                return self._on_key(event)
            if event.type() == QEvent.Type.FocusOut:
                self.hide()
        return False

    def _on_key(self, event: QKeyEvent) -> bool:
        key = event.key()
        if self.popup.isVisible():
            row = self.popup.currentRow()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                step = 1 if key == Qt.Key.Key_Down else -1
                self.popup.setCurrentRow((row + step) % self.popup.count())
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab) and row >= 0:
                if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:  # Ctrl+Enter generates
                    self.accept(self.popup.item(row).text())
                    return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                return True
        # only typing opens the list; a prompt set from the history or a redo does not
        self._typed = bool(event.text().strip()) or key == Qt.Key.Key_Backspace
        return False

    @Slot()
    def _on_text_changed(self) -> None:
        if self._typed:
            self._typed = False
            self.update()
        elif self.popup.isVisible():
            self.hide()

    @Slot()
    def _on_cursor_moved(self) -> None:
        if self.popup.isVisible() and not self._typed:
            self.update()

    def _write(self, cursor: QTextCursor, start: int, end: int, text: str) -> None:
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(text)

    def _place(self) -> None:
        host = self.edit.window()
        if self.popup.parentWidget() is not host:  # the box moved into a window after it was made
            self.popup.setParent(host)
        rows = min(VISIBLE_ROWS, self.popup.count())
        height = self.popup.sizeHintForRow(0) * rows + 2 * self.popup.frameWidth()
        width = max(220, min(420, self.popup.sizeHintForColumn(0) + 32))
        width, height = min(width, max(80, host.width())), min(height, max(40, host.height()))
        self.popup.resize(width, height)
        below = self.edit.viewport().mapTo(host, self.edit.cursorRect().bottomLeft())
        x = max(0, min(below.x(), host.width() - width))
        y = below.y() + 2
        if y + height > host.height():  # no room below the line: above it
            y = max(0, below.y() - self.edit.cursorRect().height() - height - 2)
        self.popup.move(x, y)
