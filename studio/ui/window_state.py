"""The main window's geometry, dock layout and splitter, kept in the settings as base64 text."""

from __future__ import annotations

import base64

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QMainWindow, QSplitter

from studio.config.settings import WindowState
from studio.ui.window_fit import clamp_to_screens, place_first_window


def capture(window: QMainWindow, splitter: QSplitter) -> WindowState:
    return WindowState(
        geometry=_b64(window.saveGeometry()), state=_b64(window.saveState()), splitter=_b64(splitter.saveState())
    )


def restore(window: QMainWindow, splitter: QSplitter, saved: WindowState) -> None:
    """Put back what `capture` kept, on a screen that exists; a value that is not base64 is
    skipped. With no geometry kept, the window is sized to its screen."""
    if saved.geometry and window.restoreGeometry(_unb64(saved.geometry)):
        clamp_to_screens(window)
    else:
        place_first_window(window)
    if saved.splitter:
        splitter.restoreState(_unb64(saved.splitter))
    if saved.state:
        window.restoreState(_unb64(saved.state))


def _b64(data: QByteArray) -> str:
    return base64.b64encode(bytes(data.data())).decode("ascii")


def _unb64(text: str) -> QByteArray:
    try:
        return QByteArray(base64.b64decode(text.encode("ascii"), validate=True))
    except ValueError:
        return QByteArray()
