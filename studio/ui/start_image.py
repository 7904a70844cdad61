"""The start image of a run: image-to-image, inpainting and outpainting, with the strength
shown as the forward process the run starts from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QMimeData, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.engine.run.request import FITS, MASK_BLUR_RANGE, OUTPAINT_MAX, GenerationRequest
from studio.ui.widgets import SlidingSpinBox, plain_label, section_label

THUMB_SIDE = 248
NOISE_DEBOUNCE_MS = 120
PICTURE_FILTER = "Pictures (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff)"
_FIT_WORDS = {"crop": "Crop to fill", "fit": "Fit whole", "stretch": "Stretch"}
_SIDES = ("Left", "Top", "Right", "Bottom")


class StartImagePanel(QWidget):
    """A dropped, pasted or chosen picture to start from, its strength, mask and border.

    The thumbnail shows the picture noised to the strength, as the run will see it: image-to-image
    is the forward process stopped part of the way, and the strength says how far.

    Signals:
        changed(): any value changed.
        noise_requested(str, float): noise this picture to this fraction (answer: show_noised).
        paint_mask_requested(): the person wants to paint the mask.
    """

    changed = Signal()
    noise_requested = Signal(str, float)
    paint_mask_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("StartImagePanel")
        self.setAcceptDrops(True)
        self._path = ""
        self._mask = ""
        self._steps = 20
        self._picture: QPixmap | None = None
        self._noise_timer = QTimer(self)
        self._noise_timer.setSingleShot(True)
        self._noise_timer.setInterval(NOISE_DEBOUNCE_MS)
        self._noise_timer.timeout.connect(self._ask_noise)
        self._build()
        self._refresh()

    def _build(self) -> None:
        self.thumb = QLabel()
        self.thumb.setObjectName("StartThumb")
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setMinimumHeight(96)
        self.thumb.setWordWrap(True)
        self.thumb.setTextFormat(Qt.TextFormat.PlainText)
        self.name_label = plain_label("", "HintLabel", wrap=True)
        self.open_button = QPushButton("Open…")
        self.open_button.setToolTip("Start from a picture on disk (or drop one here, or paste it)")
        self.mask_button = QPushButton("Paint mask…")
        self.mask_button.setToolTip("Paint where the run repaints: white repaints, the rest is kept")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Back to text-to-image")
        self.strength = SlidingSpinBox(0.0, 1.0, decimals=2, step=0.05)
        self.strength.setToolTip("How far the picture is noised before the run denoises it: "
                                 "0 keeps it, 1 draws anew")
        self.steps_label = plain_label("", "HintLabel")
        self.fit_box = QComboBox()
        for name in FITS:
            self.fit_box.addItem(_FIT_WORDS[name], name)
        self.fit_box.setToolTip("How a picture of another shape meets the chosen size")
        self.blur_box = QSpinBox()
        self.blur_box.setRange(*MASK_BLUR_RANGE)
        self.blur_box.setValue(4)
        self.blur_box.setSuffix(" px")
        self.blur_box.setToolTip("The soft edge where the repainted area meets the kept picture")
        self.masked_only = QCheckBox("Only the masked area")
        self.masked_only.setToolTip("Work the area around the mask at the full size and paste it back: "
                                    "small details on a big picture")
        self.margins = [QSpinBox() for _ in _SIDES]
        for box, side in zip(self.margins, _SIDES, strict=True):
            box.setRange(0, OUTPAINT_MAX)
            box.setSingleStep(32)
            box.setToolTip(f"Pixels added on the {side.lower()} (outpainting)")
            box.setAccessibleName(f"Extend {side.lower()}")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(section_label("Start image"))
        layout.addWidget(self.thumb)
        layout.addWidget(self.name_label)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        for button in (self.open_button, self.mask_button, self.clear_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.options = QWidget()
        grid = QGridLayout(self.options)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setColumnStretch(1, 1)
        grid.addWidget(plain_label("Strength", "HintLabel"), 0, 0)
        grid.addWidget(self.strength, 0, 1)
        grid.addWidget(self.steps_label, 1, 1)
        grid.addWidget(plain_label("Fit", "HintLabel"), 2, 0)
        grid.addWidget(self.fit_box, 2, 1)
        grid.addWidget(plain_label("Mask blur", "HintLabel"), 3, 0)
        grid.addWidget(self.blur_box, 3, 1)
        grid.addWidget(self.masked_only, 4, 1)
        grid.addWidget(plain_label("Extend", "HintLabel"), 5, 0)
        sides = QHBoxLayout()
        sides.setSpacing(4)
        for box in self.margins:
            sides.addWidget(box)
        grid.addLayout(sides, 5, 1)
        layout.addWidget(self.options)

        self.open_button.clicked.connect(self._on_open)
        self.mask_button.clicked.connect(self.paint_mask_requested)
        self.clear_button.clicked.connect(self.clear)
        self.strength.valueChanged.connect(self._on_strength)
        for widget in (self.fit_box, ):
            widget.currentIndexChanged.connect(self._on_changed)
        self.blur_box.valueChanged.connect(self._on_changed)
        self.masked_only.toggled.connect(self._on_changed)
        for box in self.margins:
            box.valueChanged.connect(self._on_changed)
        self.strength.setValue(0.75)

    # -- values ------------------------------------------------------------------------

    @property
    def path(self) -> str:
        return self._path

    @property
    def mask_path(self) -> str:
        return self._mask

    def fields(self) -> dict[str, Any]:
        """The request fields this panel sets (none when there is no start image)."""
        if not self._path:
            return {}
        return {
            "start_image": self._path,
            "strength": round(self.strength.value(), 2),
            "mask": self._mask,
            "mask_blur": self.blur_box.value(),
            "masked_area_only": self.masked_only.isChecked() and bool(self._mask),
            "fit": str(self.fit_box.currentData()),
            "outpaint": tuple(box.value() for box in self.margins),
        }

    def set_start_image(self, path: str | Path) -> bool:
        """Start from the picture at `path`; False (and nothing changes) when it is no picture."""
        pixmap = QPixmap(str(path))
        if pixmap.isNull():
            return False
        self._path = str(path)
        self._picture = pixmap
        self._mask = ""
        self._refresh()
        self._on_changed()
        return True

    def set_mask(self, path: str | Path) -> None:
        self._mask = str(path) if path else ""
        self._refresh()
        self._on_changed()

    def set_steps(self, steps: int) -> None:
        self._steps = int(steps)
        self._update_steps_label()

    def apply_request(self, request: GenerationRequest) -> None:
        """Set the panel from a request, e.g. to reuse a picture made from another."""
        if not request.start_image or not self.set_start_image(request.start_image):
            self.clear()
            return
        self.strength.setValue(float(request.strength))
        self.fit_box.setCurrentIndex(max(0, self.fit_box.findData(request.fit)))
        self.blur_box.setValue(int(request.mask_blur))
        for box, value in zip(self.margins, request.outpaint, strict=True):
            box.setValue(int(value))
        if request.mask and Path(request.mask).is_file():
            self.set_mask(request.mask)
        self.masked_only.setChecked(bool(request.masked_area_only))

    @Slot()
    def clear(self) -> None:
        self._path = self._mask = ""
        self._picture = None
        self._noise_timer.stop()
        self._refresh()
        self._on_changed()

    # -- the forward process -----------------------------------------------------------

    def show_noised(self, path: str, fraction: float, picture: np.ndarray) -> None:
        """The picture noised to `fraction`, as the run at that strength starts from it."""
        if path != self._path or abs(fraction - self.strength.value()) > 1e-6:
            return  # an answer to an older question
        array = np.ascontiguousarray(picture)
        height, width = array.shape[:2]
        image = QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        self._show(QPixmap.fromImage(image))

    @Slot()
    def _ask_noise(self) -> None:
        if self._path:
            self.noise_requested.emit(self._path, float(self.strength.value()))

    # -- drop and paste ----------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _first_file(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _first_file(event.mimeData())
        if path and self.set_start_image(path):
            event.acceptProposedAction()

    # -- internals ---------------------------------------------------------------------

    @Slot()
    def _on_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Start from a picture", "", PICTURE_FILTER)
        if path and not self.set_start_image(path):
            self.name_label.setText(f"{Path(path).name} is not a picture Studio can open.")

    @Slot(float)
    def _on_strength(self, _value: float) -> None:
        self._update_steps_label()
        if self._path:
            self._noise_timer.start()
        self._on_changed()

    @Slot()
    def _on_changed(self) -> None:
        self.changed.emit()

    def _refresh(self) -> None:
        has = bool(self._path)
        self.options.setVisible(has)
        self.mask_button.setEnabled(has)
        self.clear_button.setEnabled(has)
        self.masked_only.setEnabled(bool(self._mask))
        if not has:
            self.thumb.setPixmap(QPixmap())
            self.thumb.setText("Drop a picture here, paste one, or use one from the gallery to start "
                               "from it (image-to-image).")
            self.name_label.setText("")
            return
        if self._picture is not None:
            self._show(self._picture)
            size = f"{self._picture.width()}x{self._picture.height()}"
            masked = " · masked" if self._mask else ""
            self.name_label.setText(f"{Path(self._path).name} · {size}{masked}")
        self._noise_timer.start()

    def _show(self, pixmap: QPixmap) -> None:
        self.thumb.setText("")
        self.thumb.setPixmap(pixmap.scaled(THUMB_SIDE, THUMB_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    def _update_steps_label(self) -> None:
        strength = self.strength.value()
        runs = self._steps if strength >= 1 else int(self._steps * strength)
        self.steps_label.setText(f"{runs} of {self._steps} steps run")


def _first_file(mime: QMimeData) -> str:
    for url in mime.urls():
        if url.isLocalFile():
            return url.toLocalFile()
    return ""
