"""The mask editor in a dialog over the start image; the painted mask is kept under Studio's
own folder (never beside a gallery picture, where it would be taken for one)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from studio.config.atomic import SaveError, write_atomic
from studio.ui.mask_editor import MaskEditor
from studio.ui.start_image import StartImagePanel


class MaskDialog(QDialog):
    """Paint the mask of the start image; `accepted` when the person keeps it."""

    def __init__(self, picture: Image.Image, mask: Image.Image | None, soft_edge: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Paint the mask — white is repainted")
        self.resize(960, 760)
        self.editor = MaskEditor()
        self.editor.set_image(picture)
        if mask is not None:
            self.editor.set_mask(mask)
        self.editor.set_soft_edge(soft_edge)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Use mask")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 8)
        layout.addWidget(self.editor, 1)
        layout.addWidget(buttons)


def open_mask_dialog(parent: QWidget, panel: StartImagePanel, folder: Path) -> MaskDialog | None:
    """Show the editor over the panel's start image; on "Use mask" the mask is saved into
    `folder` and set on the panel (an empty mask clears it)."""
    if not panel.path:
        return None
    try:
        with Image.open(panel.path) as opened:
            picture = opened.convert("RGB")
        mask = None
        if panel.mask_path:
            with Image.open(panel.mask_path) as opened_mask:
                mask = opened_mask.convert("L").resize(picture.size)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        panel.name_label.setText("The start image can no longer be read; choose it again.")
        return None
    dialog = MaskDialog(picture, mask, panel.blur_box.value(), parent)

    def keep() -> None:
        editor = dialog.editor
        panel.blur_box.setValue(int(editor.soft_edge()))
        if editor.is_empty():
            panel.set_mask("")
            return
        try:
            panel.set_mask(save_mask(editor.raw_mask_image(), folder))
        except SaveError as error:
            panel.name_label.setText(str(error))

    dialog.accepted.connect(keep)
    dialog.open()
    return dialog


def save_mask(mask: Image.Image, folder: Path) -> Path:
    """`mask` as a PNG in `folder`, named by its content; raises SaveError."""
    buffer = io.BytesIO()
    mask.convert("L").save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    target = Path(folder) / f"mask-{hashlib.sha256(data).hexdigest()[:16]}.png"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SaveError(f"The mask could not be kept: {folder} cannot be made ({error.strerror}).") from error
    return write_atomic(target, data)


def paste_start_image(panel: StartImagePanel, folder: Path) -> str:
    """Start from the picture on the clipboard (an image, or a copied picture file); the
    status line to show."""
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage

    mime = QGuiApplication.clipboard().mimeData()
    for url in mime.urls() if mime is not None else []:
        if url.isLocalFile() and panel.set_start_image(url.toLocalFile()):
            return f"Starting from {Path(url.toLocalFile()).name}."
    image = QGuiApplication.clipboard().image()
    if image.isNull():
        return "The clipboard holds no picture to start from."
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.convertToFormat(QImage.Format.Format_RGB888).save(buffer, "PNG")
    data = bytes(buffer.data().data())
    target = Path(folder) / f"pasted-{hashlib.sha256(data).hexdigest()[:16]}.png"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
    except OSError as error:
        return f"The pasted picture could not be kept: {error.strerror or error}."
    panel.set_start_image(target)
    return "Starting from the pasted picture."
