"""The prompt box's history: Up/Down walk recent prompts, Ctrl+R searches every prompt ever used.

The prompts come from the gallery index (one row per distinct prompt, newest first); the search
runs on a pool thread, so a large gallery never stalls typing.

Signals (PromptSearchPopup): chosen(str, str, bool): the prompt, the newest image made from it,
and whether its settings should come back too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent, QTextCursor
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.ui.gallery.background import BackgroundTask

RECENT = 200
SEARCH_LIMIT = 500
DEBOUNCE_MS = 120
PromptSource = Callable[[str, int], list[tuple[str, Path]]]
PATH_ROLE = Qt.ItemDataRole.UserRole + 1


class PromptHistoryWalker(QObject):
    """Up on the first line shows the previous prompt, Down on the last line the next one; on
    any other line the keys move the caret, so multi-line prompts still edit normally. What was
    typed before walking comes back past the newest prompt."""

    def __init__(self, editor: QPlainTextEdit, source: PromptSource) -> None:
        super().__init__(editor)
        self._editor = editor
        self._source = source
        self._prompts: list[str] = []
        self._position = -1  # -1: the person's own text
        self._typed = ""
        editor.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._editor and event.type() == QEvent.Type.KeyPress:
            key_event = event if isinstance(event, QKeyEvent) else None
            if key_event is not None and key_event.modifiers() == Qt.KeyboardModifier.NoModifier:
                cursor = self._editor.textCursor()
                if key_event.key() == Qt.Key.Key_Up and cursor.blockNumber() == 0:
                    return self._step(+1)
                last = self._editor.document().blockCount() - 1
                if key_event.key() == Qt.Key.Key_Down and cursor.blockNumber() == last:
                    return self._step(-1)
        return False

    def reset(self) -> None:
        """Forget where the walk was: a new image was saved, or the person typed."""
        self._position = -1
        self._prompts = []

    def _step(self, direction: int) -> bool:
        if self._position == -1:
            self._typed = self._editor.toPlainText()
            self._prompts = [p for p, _ in self._source("", RECENT) if p != self._typed]
        target = self._position + direction
        if target < -1 or target >= len(self._prompts):
            return False  # past either end the key does what it always does
        self._position = target
        self._show(self._typed if target == -1 else self._prompts[target], at_start=direction > 0)
        return True

    def _show(self, text: str, *, at_start: bool) -> None:
        self._editor.setPlainText(text)
        cursor = self._editor.textCursor()
        # After Up the caret sits on the first line so Up keeps walking; after Down on the last.
        cursor.movePosition(QTextCursor.MoveOperation.Start if at_start else QTextCursor.MoveOperation.End)
        self._editor.setTextCursor(cursor)


class PromptSearchPopup(QDialog):
    """Type words; every prompt that holds them (as prefixes) is listed, newest first."""

    chosen = Signal(str, str, bool)

    def __init__(self, source: PromptSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Prompt history")
        self._source = source
        self._asked = ""
        self.query = QLineEdit(self)
        self.query.setPlaceholderText("Search every prompt you have used…")
        self.results = QListWidget(self)
        self.results.setWordWrap(True)
        self.results.setUniformItemSizes(False)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.with_settings = QCheckBox("Bring back its settings too (seed, steps, size, model…)", self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use this prompt")
        buttons.accepted.connect(self._on_accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (self.query, self.results, self.status, self.with_settings, buttons):
            layout.addWidget(widget)
        self.resize(560, 420)
        self._search = BackgroundTask(self)
        self._search.finished.connect(self._on_found)
        self._timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._timer.timeout.connect(self._on_search)
        self.query.textChanged.connect(self._timer.start)
        self.query.installEventFilter(self)
        self.results.itemActivated.connect(lambda _item: self._on_accept())
        self._on_search()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Up/Down in the search field move through the list, so the keyboard never leaves it.
        if watched is self.query and isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
                row = self.results.currentRow() + (1 if event.key() == Qt.Key.Key_Down else -1)
                self.results.setCurrentRow(min(max(row, 0), self.results.count() - 1))
                return True
        return False

    def wait(self) -> None:
        """Until the search in flight is done (for tests and closing)."""
        self._search.wait()

    @Slot()
    def _on_search(self) -> None:
        text = self.query.text()
        self._asked = text
        self.status.setText("Searching…")
        self._search.run(lambda: (text, self._source(text, SEARCH_LIMIT)))

    @Slot(object, str)
    def _on_found(self, result: object, problem: str) -> None:
        if problem or not isinstance(result, tuple):
            self.status.setText(f"The history could not be searched: {problem}.")
            return
        text, found = result
        if text != self._asked:
            return  # an older search; a newer one is on its way
        self.results.clear()
        for prompt, path in found:
            item = QListWidgetItem(prompt)
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            self.results.addItem(item)
        if found:
            self.results.setCurrentRow(0)
        many = " (the newest shown)" if len(found) >= SEARCH_LIMIT else ""
        self.status.setText(f"{len(found)} prompt{'s' if len(found) != 1 else ''}{many}" if found
                            else "No prompt holds these words." if text.strip() else "No prompts yet.")

    @Slot()
    def _on_accept(self) -> None:
        item = self.results.currentItem()
        if item is None:
            return
        self.chosen.emit(item.text(), str(item.data(PATH_ROLE)), self.with_settings.isChecked())
        self.accept()


class PromptHistory(QObject):
    """The history wired to a prompt box: the Up/Down walker, and the popup (Ctrl+R).

    Signals: message(str): what to tell the person (a chosen image could not be read).
    """

    message = Signal(str)

    def __init__(self, editor: QPlainTextEdit, source: PromptSource, controls: object, window: QWidget) -> None:
        super().__init__(window)
        from PySide6.QtGui import QKeySequence, QShortcut

        self._editor = editor
        self._source = source
        self._controls = controls
        self._window = window
        self.walker = PromptHistoryWalker(editor, source)
        self.popup: PromptSearchPopup | None = None
        self.shortcut = QShortcut(QKeySequence("Ctrl+R"), window)
        self.shortcut.activated.connect(self.open_popup)

    @Slot()
    def open_popup(self) -> PromptSearchPopup:
        self.popup = PromptSearchPopup(self._source, self._window)
        self.popup.chosen.connect(self._on_chosen)
        self.popup.show()
        return self.popup

    @Slot(str, str, bool)
    def _on_chosen(self, prompt: str, path: str, with_settings: bool) -> None:
        self.walker.reset()
        if with_settings:
            from studio.library.metadata import UnreadableImage
            from studio.library.metadata.reader import read_metadata
            from studio.ui.gallery.reuse import ReuseMode, offer_reuse

            try:
                meta = read_metadata(Path(path))
            except (UnreadableImage, OSError):
                meta = None
            if meta is not None and meta.request is not None:
                offer_reuse(self._controls, meta, ReuseMode.ALL, self._window, ask=False)  # type: ignore[arg-type]
                return
            self.message.emit(f"{Path(path).name} could not be read, so only its prompt came back.")
        self._editor.setPlainText(prompt)
        self._editor.moveCursor(QTextCursor.MoveOperation.End)
