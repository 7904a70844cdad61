"""Upscaling one picture from the gallery: the scale and the upscaler, the size it makes, and a
progress bar over its tiles. The work runs on the worker thread, after any run in progress."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QImageReader
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.engine.run.cancel import CancelToken
from studio.engine.upscale.catalogue import LANCZOS, list_upscalers
from studio.engine.upscale.limits import MAX_SIDE, output_size
from studio.ui.controller import GenerationController
from studio.ui.events import JobEvent, Upscaled, UpscaleFailed, UpscaleProgress
from studio.ui.widgets import SlidingSpinBox, plain_label

SCALE_RANGE = (1.0, 8.0)
DEFAULT_SCALE = 2.0


class UpscaleDialog(QDialog):
    """Enlarges `source` into `folder` through `controller`'s worker; closes once it is saved."""

    def __init__(
        self, source: Path, models_dir: Path, controller: GenerationController, folder: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Upscale")
        self.source = source
        self.saved_path = ""
        self._controller = controller
        self._folder = folder
        self._cancel: CancelToken | None = None
        self._size = QImageReader(str(source)).size()  # read from the header, no pixels decoded
        self.scale = SlidingSpinBox(*SCALE_RANGE, decimals=2, step=0.5)
        self.scale.setValue(DEFAULT_SCALE)
        self.upscaler = QComboBox()
        self.upscaler.setAccessibleName("Upscaler")
        for upscaler in list_upscalers(models_dir):
            self.upscaler.addItem(upscaler.name)
        self.upscaler.setToolTip(f"{LANCZOS} is built in; upscale models go in the models folder's upscalers/")
        self.size_label = plain_label("", "HintLabel")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status = plain_label("", "HintLabel", wrap=True)
        self.start_button = QPushButton("Upscale")
        self.start_button.setDefault(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.ActionRole)

        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setColumnStretch(1, 1)
        grid.addWidget(plain_label("Picture", "HintLabel"), 0, 0)
        grid.addWidget(plain_label(source.name, wrap=True), 0, 1)
        grid.addWidget(plain_label("Scale", "HintLabel"), 1, 0)
        grid.addWidget(self.scale, 1, 1)
        grid.addWidget(self.size_label, 2, 1)
        grid.addWidget(plain_label("Upscaler", "HintLabel"), 3, 0)
        grid.addWidget(self.upscaler, 3, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(380)

        self.scale.valueChanged.connect(self._show_size)
        self.start_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self._on_cancel)
        controller.event.connect(self._on_event)
        self._show_size()

    def _target(self) -> tuple[int, int]:
        return output_size(self._size.width(), self._size.height(), self.scale.value())

    @Slot()
    def _show_size(self) -> None:
        if not self._size.isValid():
            self.size_label.setText("The picture's size cannot be read.")
            self.start_button.setEnabled(False)
            return
        width, height = self._target()
        too_big = max(width, height) > MAX_SIDE
        self.size_label.setText(f"{self._size.width()}x{self._size.height()} → {width}x{height}"
                                + (f": more than {MAX_SIDE} pixels on a side" if too_big else ""))
        self.start_button.setEnabled(not too_big and self._cancel is None)

    @Slot()
    def start(self) -> None:
        if self._cancel is not None:
            return
        self._cancel = self._controller.request_upscale(
            str(self.source), self.scale.value(), self.upscaler.currentText() or LANCZOS, self._folder)
        self.start_button.setEnabled(False)
        self.scale.setEnabled(False)
        self.upscaler.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the first tile says how many there are
        self.progress.show()
        self.status.setText("Waiting for the run in progress…" if self._controller.busy else "Upscaling…")

    @Slot(object)
    def _on_event(self, event: JobEvent) -> None:
        match event.event:
            case UpscaleProgress(source=source, done=done, total=total) if source == str(self.source):
                self.status.setText(f"Upscaling: tile {done} of {total}")
                self.progress.setRange(0, total)
                self.progress.setValue(done)
            case Upscaled(source=source, path=path) if source == str(self.source):
                self.saved_path = path
                self.accept()
            case UpscaleFailed(source=source, message=message, cancelled=cancelled) if source == str(self.source):
                self._cancel = None
                self.progress.hide()
                self.status.setText(message)
                self.scale.setEnabled(True)
                self.upscaler.setEnabled(True)
                self._show_size()
                if cancelled:
                    self.reject()

    @Slot()
    def _on_cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()  # the worker stops before the next tile and says so
            self.status.setText("Cancelling…")
        else:
            self.reject()

    def done(self, result: int) -> None:
        self._controller.event.disconnect(self._on_event)
        super().done(result)


def open_upscale_dialog(
    parent: QWidget, source: Path, models_dir: Path, controller: GenerationController, folder: Path,
) -> UpscaleDialog:
    dialog = UpscaleDialog(source, models_dir, controller, folder, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
