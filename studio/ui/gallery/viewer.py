"""One image large, with what made it beside it, and the actions an artist takes on it."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.library.metadata import ImageMetadata
from studio.ui import theme
from studio.ui.gallery.delegate import star_icon
from studio.ui.preview import PreviewView
from studio.ui.theme import icon
from studio.ui.widgets import ElidedLabel, plain_label, section_label
from studio.ui.window_fit import ColumnScrollArea

SIDE_WIDTH = 340
# below this width beside the side panel, the timeline's sliders move under the whole viewer
# (image and side panel) rather than shrinking to a stub under a small picture
TIMELINE_ROOM = 360
VIEWER_KEYS = {
    Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Escape,
    Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Delete, Qt.Key.Key_Backspace, Qt.Key.Key_F,
}  # fmt: skip


def _value_label(object_name: str = "MetaValue") -> QLabel:
    label = plain_label("", object_name, wrap=True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return label


class ImageViewer(QWidget):
    """Shows one image; the gallery panel acts on its signals.

    Signals:
        back_requested(): return to the grid (Esc, Enter, the back button).
        step_requested(int): show the previous (-1) or next (+1) image.
        reuse_all_requested(), reuse_prompt_requested(), reuse_seed_requested()
        copy_requested(), folder_requested(), favorite_requested(), delete_requested()
        start_from_requested(): use this image as the start image of the next run.
        variations_requested(): run variations of this image (same settings, varied noise).
        upscale_requested(): upscale this image.
        parent_requested(str): open the picture this one was made from (its path).
    """

    back_requested = Signal()
    step_requested = Signal(int)
    reuse_all_requested = Signal()
    reuse_prompt_requested = Signal()
    reuse_seed_requested = Signal()
    copy_requested = Signal()
    folder_requested = Signal()
    favorite_requested = Signal()
    delete_requested = Signal()
    start_from_requested = Signal()
    variations_requested = Signal()
    upscale_requested = Signal()
    parent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("GalleryViewer")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.path: Path | None = None
        self.meta: ImageMetadata | None = None
        self._favorite = False
        self._picture: QPixmap | None = None
        self._star_outline = star_icon(theme.TEXT, filled=False)
        self._build()
        self._connect()

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        self.back_button = QToolButton()
        self.back_button.setObjectName("BackButton")
        self.back_button.setText("‹  Gallery")
        self.back_button.setToolTip("Back to the grid (Esc)")
        self.previous_button = QToolButton()
        self.previous_button.setText("‹")
        self.previous_button.setToolTip("Previous image (Left)")
        self.next_button = QToolButton()
        self.next_button.setText("›")
        self.next_button.setToolTip("Next image (Right)")
        for button in (self.previous_button, self.next_button):
            button.setObjectName("StepButton")
        self.title = ElidedLabel("ViewerTitle")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.position_label = plain_label("", "HintLabel")
        top = QHBoxLayout()
        top.setContentsMargins(12, 10, 12, 6)
        top.setSpacing(8)
        top.addWidget(self.back_button)
        top.addWidget(self.title, 1)
        top.addWidget(self.position_label)
        top.addWidget(self.previous_button)
        top.addWidget(self.next_button)

        self.image_view = PreviewView()
        self.image_view.setMinimumSize(160, 160)  # the picture shrinks before the window outgrows the screen
        self.image_view.clear("")
        self.status = plain_label("", "ViewerStatus", wrap=True)
        self.status.hide()
        # the denoising timeline goes here when there is one for this image
        self.timeline_slot = QWidget()
        self.timeline_slot.setObjectName("TimelineSlot")
        self._timeline_layout = QVBoxLayout(self.timeline_slot)
        self._timeline_layout.setContentsMargins(0, 0, 0, 0)
        self.timeline_slot.hide()
        # a widget of its own, so the timeline can move out of it and back (see _place_timeline)
        self.picture_column = QWidget()
        center = QVBoxLayout(self.picture_column)
        center.setContentsMargins(12, 0, 6, 12)
        center.setSpacing(8)
        center.addWidget(self.image_view, 1)
        center.addWidget(self.status)
        center.addWidget(self.timeline_slot)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.picture_column, 1)
        self.side = self._side()
        body.addWidget(self.side)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addLayout(body, 1)
        self._timeline_wide = False

    def _side(self) -> QWidget:
        self.prompt_label = _value_label("MetaPrompt")
        self.negative_label = _value_label()
        self.negative_title = section_label("Negative prompt")
        self.fields: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(6)
        grid.setColumnStretch(1, 1)
        names = ("Seed", "Steps", "Guidance", "Size", "Sampler", "Model", "Made with", "Created")
        for i, name in enumerate(names):
            key = plain_label(name, "HintLabel")
            key.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            value = _value_label()
            self.fields[name] = value
            grid.addWidget(key, i, 0)
            grid.addWidget(value, i, 1)
        self.notes_title = section_label("Could not read")
        self.notes_label = _value_label("MetaNotes")

        self.reuse_all_button = QPushButton(icon("reuse-seed", "#ffffff"), " Reuse all")
        self.reuse_all_button.setObjectName("ReuseAllButton")
        self.reuse_all_button.setToolTip("Put every parameter of this image into the controls")
        self.reuse_prompt_button = QPushButton("Prompt")
        self.reuse_prompt_button.setToolTip("Reuse the prompt and negative prompt only")
        self.reuse_seed_button = QPushButton("Seed")
        self.reuse_seed_button.setToolTip("Reuse the seed only")
        reuse_row = QHBoxLayout()
        reuse_row.setSpacing(6)
        reuse_row.addWidget(self.reuse_all_button, 2)
        reuse_row.addWidget(self.reuse_prompt_button, 1)
        reuse_row.addWidget(self.reuse_seed_button, 1)
        self.start_from_button = QPushButton("Start from this")
        self.start_from_button.setToolTip("Use this image as the start image: image-to-image, "
                                          "inpainting, outpainting")
        self.variations_button = QPushButton("Variations")
        self.variations_button.setToolTip("Four variations of this image: its settings, with the starting "
                                          "noise blended with new seeds")
        self.upscale_button = QPushButton("Upscale…")
        self.upscale_button.setToolTip("A larger copy, by Lanczos or an upscale model, saved beside it")
        self.parent_button = QPushButton("")
        self.parent_button.setObjectName("ParentButton")
        self.parent_button.setToolTip("Open the picture this one was made from")
        self.parent_button.hide()
        self.compare_button = QPushButton("Compare with it")
        self.compare_button.setToolTip("Before and after: this picture and the one it was made from")
        self.compare_button.hide()
        self._parent = ""

        self.copy_button = QToolButton()
        self.copy_button.setIcon(icon("copy"))
        self.copy_button.setToolTip("Copy the parameters as text")
        self.folder_button = QToolButton()
        self.folder_button.setIcon(icon("folder"))
        self.folder_button.setToolTip("Open the containing folder")
        self.favorite_button = QToolButton()
        self.favorite_button.setObjectName("FavoriteButton")
        self.favorite_button.setCheckable(True)
        self.favorite_button.setToolTip("Favorite (F)")
        self.delete_button = QToolButton()
        self.delete_button.setObjectName("DeleteButton")
        self.delete_button.setIcon(icon("remove"))
        self.delete_button.setText(" Delete")
        self.delete_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.delete_button.setToolTip("Move to the trash (Delete)")
        tools = QHBoxLayout()
        tools.setSpacing(6)
        for button in (self.favorite_button, self.copy_button, self.folder_button):
            tools.addWidget(button)
        tools.addStretch(1)
        tools.addWidget(self.delete_button)

        content = QWidget()
        content.setObjectName("ViewerSide")
        column = QVBoxLayout(content)
        column.setContentsMargins(16, 12, 16, 16)
        column.setSpacing(6)
        column.addLayout(tools)
        column.addSpacing(4)
        column.addLayout(reuse_row)
        column.addWidget(self.start_from_button)
        make_row = QHBoxLayout()
        make_row.setSpacing(6)
        make_row.addWidget(self.variations_button, 1)
        make_row.addWidget(self.upscale_button, 1)
        column.addLayout(make_row)
        column.addWidget(self.parent_button)
        column.addWidget(self.compare_button)
        column.addSpacing(8)
        column.addWidget(section_label("Prompt"))
        column.addWidget(self.prompt_label)
        column.addWidget(self.negative_title)
        column.addWidget(self.negative_label)
        column.addSpacing(4)
        column.addWidget(section_label("Settings"))
        column.addLayout(grid)
        column.addWidget(self.notes_title)
        column.addWidget(self.notes_label)
        column.addStretch(1)
        # as wide as its buttons need and at most SIDE_WIDTH, so the window fits a 1024-pixel screen
        scroll = ColumnScrollArea()
        scroll.setObjectName("ViewerSideScroll")
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        scroll.setMaximumWidth(SIDE_WIDTH)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return scroll

    # -- fitting a narrow page ---------------------------------------------------------

    def _place_timeline(self) -> None:
        # the layouts are looked up through their widgets each time, never kept: a resize can
        # come while the viewer is being torn down
        page, column = self.layout(), self.picture_column.layout()
        if page is None or column is None:
            return
        side = min(self.side.sizeHint().width(), SIDE_WIDTH)
        wide = self.width() - side < TIMELINE_ROOM
        if wide == self._timeline_wide:
            return
        self._timeline_wide = wide
        (column if wide else page).removeWidget(self.timeline_slot)
        (page if wide else column).addWidget(self.timeline_slot)
        self._timeline_layout.setContentsMargins(*((12, 0, 12, 10) if wide else (0, 0, 0, 0)))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.isVisible():
            self._place_timeline()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._place_timeline()

    def _connect(self) -> None:
        self.back_button.clicked.connect(self.back_requested)
        self.previous_button.clicked.connect(self._on_previous)
        self.next_button.clicked.connect(self._on_next)
        self.reuse_all_button.clicked.connect(self.reuse_all_requested)
        self.reuse_prompt_button.clicked.connect(self.reuse_prompt_requested)
        self.reuse_seed_button.clicked.connect(self.reuse_seed_requested)
        self.start_from_button.clicked.connect(self.start_from_requested)
        self.variations_button.clicked.connect(self.variations_requested)
        self.upscale_button.clicked.connect(self.upscale_requested)
        self.parent_button.clicked.connect(self._on_parent_clicked)
        self.compare_button.clicked.connect(self._on_compare_clicked)
        self.copy_button.clicked.connect(self.copy_requested)
        self.folder_button.clicked.connect(self.folder_requested)
        self.favorite_button.clicked.connect(self._on_favorite_clicked)
        self.delete_button.clicked.connect(self.delete_requested)

    def _on_previous(self) -> None:
        self.step_requested.emit(-1)

    def _on_next(self) -> None:
        self.step_requested.emit(1)

    def _on_favorite_clicked(self) -> None:
        self.favorite_button.setChecked(self._favorite)  # the panel decides, then calls back
        self.favorite_requested.emit()

    # -- content -----------------------------------------------------------------------

    def show_image(
        self,
        path: Path,
        meta: ImageMetadata | None,
        preview: QPixmap | None,
        *,
        favorite: bool,
        position: tuple[int, int],
        problem: str = "",
    ) -> None:
        """Show `path` with its metadata; `preview` (the thumbnail) stands in until the full
        image arrives through `set_full_image`."""
        self.path = Path(path)
        self.meta = meta
        self.title.set_full_text(self.path.name)
        self.title.setToolTip(str(self.path))
        index, total = position
        self.position_label.setText(f"{index + 1:,} / {total:,}")
        self.previous_button.setEnabled(index > 0)
        self.next_button.setEnabled(index + 1 < total)
        self._picture = preview if preview is not None and not preview.isNull() else None
        if self._picture is not None:
            self.image_view.show_pixmap(self._picture)
        else:
            self.image_view.clear("Loading…")
        self.set_status(problem)
        self.set_favorite(favorite)
        self._parent = ""
        self.parent_button.hide()
        self.compare_button.hide()
        self._show_meta(meta)

    def set_full_image(self, path: Path, image: QImage) -> None:
        if self.path is not None and Path(path) == self.path:
            self._picture = QPixmap.fromImage(image)
            self.image_view.show_pixmap(self._picture)

    def show_picture(self) -> None:
        """Show the image itself again (after a film frame or a noised view)."""
        if self._picture is not None:
            self.image_view.show_pixmap(self._picture)

    def picture_size(self) -> QSize:
        """The size of the image as saved (from its metadata, else from its pixels)."""
        meta = self.meta
        if meta is not None and meta.width and meta.height:
            return QSize(meta.width, meta.height)
        return self._picture.size() if self._picture is not None else QSize()

    def set_timeline(self, widget: QWidget | None) -> None:
        """Put the image's denoising timeline (or nothing) below the image."""
        layout = self._timeline_layout
        while layout.count():
            item = layout.takeAt(0)
            old = item.widget() if item is not None else None
            if old is not None:
                old.deleteLater()
        if widget is not None:
            layout.addWidget(widget)
        self.timeline_slot.setVisible(widget is not None)

    def set_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def set_favorite(self, favorite: bool) -> None:
        self._favorite = favorite
        self.favorite_button.setChecked(favorite)
        self.favorite_button.setIcon(star_icon(filled=True) if favorite else self._star_outline)
        tip = "Remove from favorites (F)" if favorite else "Add to favorites (F)"
        self.favorite_button.setToolTip(tip)

    def _show_meta(self, meta: ImageMetadata | None) -> None:
        meta = meta or ImageMetadata()
        self.prompt_label.setText(meta.prompt if meta.prompt else "(none)")
        self.negative_label.setText(meta.negative_prompt or "")
        has_negative = bool(meta.negative_prompt)
        self.negative_title.setVisible(has_negative)
        self.negative_label.setVisible(has_negative)
        sampler = meta.sampler or meta.scheduler
        if meta.sampler and meta.scheduler and meta.scheduler != meta.sampler:
            sampler = f"{meta.sampler} ({meta.scheduler} in Studio)"
        values = {
            "Seed": meta.seed,
            "Steps": meta.steps,
            "Guidance": None if meta.guidance is None else f"{meta.guidance:g}",
            "Size": meta.size,
            "Sampler": sampler,
            "Model": meta.model or ("the default model" if meta.source == "Studio" else None),
            "Made with": meta.source,
            "Created": _when(meta.created),
        }
        for name, value in values.items():
            self.fields[name].setText("—" if value is None or value == "" else str(value))
        self.notes_label.setText("\n".join(f"• {p}" for p in meta.problems))
        self.notes_title.setVisible(bool(meta.problems))
        self.notes_label.setVisible(bool(meta.problems))
        self.reuse_all_button.setEnabled(meta.request is not None)
        self.reuse_prompt_button.setEnabled(meta.prompt is not None)
        self.reuse_seed_button.setEnabled(meta.seed is not None)
        self._parent = meta.request.start_image if meta.request is not None else ""
        self.parent_button.setText(f"Made from {Path(self._parent).name}" if self._parent else "")
        self.parent_button.setVisible(bool(self._parent))
        self.compare_button.setVisible(bool(self._parent))

    def _on_compare_clicked(self) -> None:
        from studio.ui.compare_slider import open_compare

        if self._parent and self.path is not None:
            self.compare_dialog = open_compare(Path(self._parent), self.path, self)
            if self.compare_dialog is None:
                self.set_status("The picture it was made from cannot be read, so there is nothing to compare.")

    def _on_parent_clicked(self) -> None:
        if self._parent:
            self.parent_requested.emit(self._parent)

    def event(self, event: QEvent) -> bool:
        # the viewer's keys win over window shortcuts (Esc also cancels a run elsewhere)
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            and event.key() in VIEWER_KEYS
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            super().keyPressEvent(event)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up):
            self.step_requested.emit(-1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down):
            self.step_requested.emit(1)
        elif key in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.back_requested.emit()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_requested.emit()
        elif key == Qt.Key.Key_F:
            self.favorite_requested.emit()
        else:
            super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(1000, 700)


def _when(created: float | None) -> str | None:
    if created is None:
        return None
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
