"""Dropping an image from any tool onto the window loads its parameters into the controls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QWidget

from studio.library.metadata import UnreadableImage, read_metadata
from studio.ui.gallery.reuse import ParameterControls, ReuseDialog, ReuseMode, offer_reuse

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
Notify = Callable[[str], object]


def dropped_image(mime: QMimeData) -> Path | None:
    """The first local PNG, JPEG or WebP file among the dropped URLs."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in IMAGE_SUFFIXES:
                return path
    return None


class ImageDropLoader(QObject):
    """An event filter for a window: accepts image files dragged onto it, reads what made
    them and offers the change to the controls (the same diff dialog as "Reuse all").

    `notify` shows a line to the user (a status bar's showMessage, for instance).
    """

    def __init__(
        self, window: QWidget, controls: ParameterControls, notify: Notify | None = None
    ) -> None:
        super().__init__(window)
        self._window = window
        self._controls = controls
        self._notify = notify
        self.dialog: ReuseDialog | None = None
        self.last_message = ""
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDragEnterEvent | QDragMoveEvent)
            if dropped_image(event.mimeData()) is not None:
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                return True
            return False
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            path = dropped_image(event.mimeData())
            if path is None:
                return False
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.load(path)
            return True
        return False

    def load(self, path: Path) -> ReuseDialog | None:
        """Read `path` and offer its parameters; the notes say what could not be mapped."""
        try:
            meta = read_metadata(path)
        except UnreadableImage as exc:
            self._say(f"{path.name}: {exc}")
            return None
        dialog = offer_reuse(self._controls, meta, ReuseMode.ALL, self._window)
        if dialog is None:
            reason = "; ".join(meta.problems) or "it has no parameters Studio can use"
            self._say(f"Nothing to load from {path.name}: {reason}")
            return None
        source = meta.source or "an unknown tool"
        dialog.setWindowTitle(f"Load parameters from {path.name} ({source})")
        unmapped = len(meta.problems)
        dialog.accepted.connect(
            lambda: self._say(
                f"Loaded the parameters of {path.name}"
                + (f"; {unmapped} could not be mapped (see the list)." if unmapped else ".")
            )
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(self._forget)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _forget(self) -> None:
        self.dialog = None

    def _say(self, text: str) -> None:
        self.last_message = text
        if self._notify is not None:
            self._notify(text)
