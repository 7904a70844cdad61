"""The mask editor: the canvas on which the artist marks what to repaint, with its toolbar.

`MaskEditor` is one widget that a dialog or a panel embeds; `save_mask_png` writes what it
made next to the picture it belongs to.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QImage, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QButtonGroup, QFrame, QHBoxLayout, QToolButton, QVBoxLayout, QWidget

from studio.config.atomic import write_atomic
from studio.library.store import PNG_COMPRESS_LEVEL
from studio.ui.mask_canvas import MAX_SIZE, MIN_SIZE, MaskCanvas
from studio.ui.mask_document import MAX_SOFT_EDGE, MaskTool
from studio.ui.theme import DIM
from studio.ui.widgets import SlidingSpinBox, plain_label

MASK_SUFFIX = ".mask.png"
SIZE_STEP = 1.2  # [ and ] change the brush size by this factor, at least one pixel

MASK_STYLE = f"""
#MaskEditor {{ background: #111215; }}
#MaskToolbar, #MaskFooter {{ background: #17181c; }}
#MaskToolbar {{ border-bottom: 1px solid #24262c; }}
#MaskFooter {{ border-top: 1px solid #24262c; }}
QLabel#MaskHint {{ color: {DIM}; background: transparent; }}
QLabel#MaskZoom {{ color: {DIM}; background: transparent; min-width: 44px; }}
QToolButton#MaskTool {{ padding: 5px 12px; }}
QToolButton#MaskAction {{ padding: 5px 10px; }}
QToolButton#MaskViewButton {{ padding: 2px 9px; border-radius: 5px; }}
QFrame#MaskSeparator {{ background: #2c2f37; border: none; }}
"""


def mask_path_beside(path: Path) -> Path:
    """Where the mask of `path` goes: photo.png -> photo.mask.png, in the same folder."""
    path = Path(path)
    return path.with_name(f"{path.stem}{MASK_SUFFIX}")


def save_mask_png(mask: Image.Image, beside: Path) -> Path:
    """Write `mask` as a greyscale PNG next to `beside` (see `mask_path_beside`), atomically,
    replacing an older mask there; returns the path written. Raises SaveError."""
    buffer = io.BytesIO()
    mask.convert("L").save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return write_atomic(mask_path_beside(beside), buffer.getvalue())


def _separator() -> QFrame:
    line = QFrame()
    line.setObjectName("MaskSeparator")
    line.setFixedSize(1, 22)
    return line


class MaskToolbar(QWidget):
    """The editor's controls: tools, brush size, soft edge and edits in one row, and the zoom
    controls that `MaskEditor` puts under the canvas. It holds no state of its own; the editor
    keeps it in step with the canvas."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MaskToolbar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.brush_button = self._button("Brush", "Paint what to repaint (B)", "MaskTool", checkable=True)
        self.eraser_button = self._button("Eraser", "Take back what to keep (E; X swaps)", "MaskTool", checkable=True)
        self.brush_button.setChecked(True)
        self.tools = QButtonGroup(self)
        self.tools.setExclusive(True)
        self.tools.addButton(self.brush_button)
        self.tools.addButton(self.eraser_button)
        self.size = SlidingSpinBox(MIN_SIZE, MAX_SIZE, slider_max=300)
        self.size.setToolTip("Brush diameter in picture pixels ([ smaller, ] larger)")
        self.soft_edge = SlidingSpinBox(0, MAX_SOFT_EDGE, slider_max=64)
        self.soft_edge.setToolTip("Blur of the mask's edge in picture pixels, so the repaint blends in")
        for control in (self.size, self.soft_edge):
            control.slider.setFixedWidth(96)
            control.spin.setFixedWidth(54)
            control.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.invert_button = self._button("Invert", "Swap what is repainted and what is kept (I)")
        self.clear_button = self._button("Clear", "Mark nothing (Delete)")
        self.undo_button = self._button("Undo", "Undo the last stroke (Ctrl+Z)")
        self.redo_button = self._button("Redo", "Redo (Ctrl+Shift+Z or Ctrl+Y)")
        # the view's controls live in the footer, under the picture they move
        self.zoom_label = plain_label("100%", "MaskZoom")
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.zoom_label.setToolTip("Zoom: the wheel zooms around the cursor")
        self.fit_button = self._button("Fit", "Show the whole picture (F)", "MaskViewButton")
        self.actual_button = self._button("100%", "One picture pixel per screen pixel (1)", "MaskViewButton")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(6)
        layout.addWidget(self.brush_button)
        layout.addWidget(self.eraser_button)
        layout.addSpacing(6)
        layout.addWidget(_separator())
        layout.addSpacing(6)
        layout.addWidget(plain_label("Size", "MaskHint"))
        layout.addWidget(self.size)
        layout.addSpacing(10)
        layout.addWidget(plain_label("Soft edge", "MaskHint"))
        layout.addWidget(self.soft_edge)
        layout.addSpacing(6)
        layout.addWidget(_separator())
        layout.addSpacing(6)
        for button in (self.invert_button, self.clear_button):
            layout.addWidget(button)
        layout.addSpacing(6)
        layout.addWidget(_separator())
        layout.addSpacing(6)
        for button in (self.undo_button, self.redo_button):
            layout.addWidget(button)
        layout.addStretch(1)

    @staticmethod
    def _button(text: str, tip: str, name: str = "MaskAction", *, checkable: bool = False) -> QToolButton:
        button = QToolButton()
        button.setObjectName(name)
        button.setText(text)
        button.setToolTip(tip)
        button.setCheckable(checkable)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys keep going to the canvas
        return button


class MaskEditor(QWidget):
    """Paint an inpainting mask over a picture: brush and eraser, soft edge, invert, clear,
    undo and redo, zoom and pan. Keys: B brush, E eraser, X swap, [ and ] size, I invert,
    Delete clear, Ctrl+Z undo, Ctrl+Shift+Z or Ctrl+Y redo, F fit, 1 actual size; Space+drag pans.

    Signals:
        maskChanged(): after each stroke, undo, redo, clear, invert, or a new mask or picture.
    """

    maskChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("MaskEditor")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        self.setStyleSheet(MASK_STYLE)
        self.canvas = MaskCanvas()
        self.document = self.canvas.document
        self.toolbar = MaskToolbar()
        self.size_label = plain_label("", "MaskHint")
        footer = QWidget()
        footer.setObjectName("MaskFooter")
        footer.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        row = QHBoxLayout(footer)
        row.setContentsMargins(12, 4, 8, 4)
        row.setSpacing(6)
        hint = "Paint what to repaint.  Wheel: zoom.  Space+drag or middle button: pan."
        row.addWidget(plain_label(hint, "MaskHint"))
        row.addStretch(1)
        row.addWidget(self.size_label)
        row.addSpacing(14)
        row.addWidget(self.toolbar.zoom_label)
        row.addWidget(self.toolbar.fit_button)
        row.addWidget(self.toolbar.actual_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(footer)
        self.setFocusProxy(self.canvas)
        self._connect()
        self.toolbar.size.setValue(self.canvas.brush_size())
        self.toolbar.soft_edge.setValue(self.document.soft_edge())
        self._on_history_changed()

    def _connect(self) -> None:
        bar, canvas, document = self.toolbar, self.canvas, self.document
        bar.brush_button.clicked.connect(self._on_brush_clicked)
        bar.eraser_button.clicked.connect(self._on_eraser_clicked)
        bar.size.valueChanged.connect(self._on_size_edited)
        bar.soft_edge.valueChanged.connect(self._on_soft_edge_edited)
        bar.invert_button.clicked.connect(document.invert)
        bar.clear_button.clicked.connect(document.clear)
        bar.undo_button.clicked.connect(document.undo)
        bar.redo_button.clicked.connect(document.redo)
        bar.fit_button.clicked.connect(canvas.fit_to_view)
        bar.actual_button.clicked.connect(canvas.actual_size)
        document.maskChanged.connect(self.maskChanged)
        document.historyChanged.connect(self._on_history_changed)
        canvas.toolChanged.connect(self._on_tool_changed)
        canvas.brushSizeChanged.connect(self._on_size_changed)
        canvas.zoomChanged.connect(self._on_zoom_changed)

    # -- the picture and its mask ------------------------------------------------------

    def set_image(self, image: Image.Image | QImage) -> None:
        """Show `image` with an empty mask; the undo history starts again."""
        self.canvas.set_image(image)
        size = self.canvas.image_size()
        self.size_label.setText(f"{size.width()} × {size.height()} px")

    def set_mask(self, mask: Image.Image | None) -> None:
        """Replace the mask ("L", 255 repaint; None: empty); the undo history starts again."""
        self.document.set_mask(mask)

    def mask_image(self) -> Image.Image:
        """The mask to inpaint with ("L", the picture's size, 255 repaint), soft edge applied."""
        return self.document.image()

    def raw_mask_image(self) -> Image.Image:
        """The mask as painted, without the soft edge."""
        return self.document.raw_image()

    def is_empty(self) -> bool:
        return self.document.is_empty()

    def save_mask(self, beside: Path) -> Path:
        """Save `mask_image()` next to `beside` (photo.png -> photo.mask.png); raises SaveError."""
        return save_mask_png(self.mask_image(), beside)

    # -- tools and edits -----------------------------------------------------------------

    def tool(self) -> MaskTool:
        return self.canvas.tool()

    def set_tool(self, tool: MaskTool | str) -> None:
        self.canvas.set_tool(tool)

    def brush_size(self) -> int:
        return self.canvas.brush_size()

    def set_brush_size(self, size: float) -> None:
        self.canvas.set_brush_size(size)

    def soft_edge(self) -> int:
        return self.document.soft_edge()

    def set_soft_edge(self, radius: float) -> None:
        """Blur the exported mask's edge by `radius` picture pixels (0-128); the overlay shows it."""
        self.toolbar.soft_edge.setValue(self.document.set_soft_edge(radius))

    def undo(self) -> bool:
        return self.document.undo()

    def redo(self) -> bool:
        return self.document.redo()

    def clear(self) -> None:
        self.document.clear()

    def invert(self) -> None:
        self.document.invert()

    def fit_to_view(self) -> None:
        self.canvas.fit_to_view()

    def actual_size(self) -> None:
        self.canvas.actual_size()

    # -- keys ----------------------------------------------------------------------------

    def _key_action(self, event: QKeyEvent) -> str | None:
        """What a key does in the editor, or None when it is not one of the editor's keys."""
        if event.matches(QKeySequence.StandardKey.Undo):
            return "undo"
        if event.matches(QKeySequence.StandardKey.Redo):
            return "redo"
        key = event.key()
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        control = Qt.KeyboardModifier.ControlModifier
        if mods == control | Qt.KeyboardModifier.ShiftModifier and key == Qt.Key.Key_Z:
            return "redo"
        if mods == control and key == Qt.Key.Key_Y:
            return "redo"
        if mods & ~Qt.KeyboardModifier.ShiftModifier:
            return None
        return {
            Qt.Key.Key_B: "brush",
            Qt.Key.Key_E: "eraser",
            Qt.Key.Key_X: "swap",
            Qt.Key.Key_BracketLeft: "smaller",
            Qt.Key.Key_BracketRight: "larger",
            Qt.Key.Key_I: "invert",
            Qt.Key.Key_Delete: "clear",
            Qt.Key.Key_Backspace: "clear",
            Qt.Key.Key_F: "fit",
            Qt.Key.Key_1: "actual",
        }.get(key)

    def event(self, event: QEvent) -> bool:
        # the editor's keys win over the window's shortcuts while it has the focus
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and self._key_action(event) is not None
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._key_action(event)
        canvas, document = self.canvas, self.document
        size = canvas.brush_size()
        match action:
            case "undo":
                document.undo()
            case "redo":
                document.redo()
            case "brush":
                canvas.set_tool(MaskTool.BRUSH)
            case "eraser":
                canvas.set_tool(MaskTool.ERASER)
            case "swap":
                canvas.set_tool(MaskTool.ERASER if canvas.tool() is MaskTool.BRUSH else MaskTool.BRUSH)
            case "smaller":
                canvas.set_brush_size(min(size - 1, round(size / SIZE_STEP)))
            case "larger":
                canvas.set_brush_size(max(size + 1, round(size * SIZE_STEP)))
            case "invert":
                document.invert()
            case "clear":
                document.clear()
            case "fit":
                canvas.fit_to_view()
            case "actual":
                canvas.actual_size()
            case _:
                super().keyPressEvent(event)

    # -- keeping the toolbar in step ---------------------------------------------------

    @Slot()
    def _on_brush_clicked(self) -> None:
        self.canvas.set_tool(MaskTool.BRUSH)

    @Slot()
    def _on_eraser_clicked(self) -> None:
        self.canvas.set_tool(MaskTool.ERASER)

    @Slot(float)
    def _on_size_edited(self, value: float) -> None:
        self.canvas.set_brush_size(round(value))

    @Slot(float)
    def _on_soft_edge_edited(self, value: float) -> None:
        self.document.set_soft_edge(value)

    @Slot(str)
    def _on_tool_changed(self, tool: str) -> None:
        button = self.toolbar.brush_button if tool == MaskTool.BRUSH.value else self.toolbar.eraser_button
        button.setChecked(True)

    @Slot(int)
    def _on_size_changed(self, size: int) -> None:
        self.toolbar.size.setValue(size)

    @Slot(float)
    def _on_zoom_changed(self, scale: float) -> None:
        self.toolbar.zoom_label.setText(f"{scale * 100:.0f}%")

    @Slot()
    def _on_history_changed(self) -> None:
        bar, document = self.toolbar, self.document
        bar.undo_button.setEnabled(document.can_undo())
        bar.redo_button.setEnabled(document.can_redo())
        for button in (bar.invert_button, bar.clear_button, bar.fit_button, bar.actual_button):
            button.setEnabled(not document.is_null())
