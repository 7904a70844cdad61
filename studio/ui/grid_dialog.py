"""The X/Y/Z grid window: axes typed as on the command line, cells forming in their places.

Each cell shows its live preview while its job runs, then its image; the labeled grid image is
saved to the gallery when the last cell is done. Cancel stops the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from studio.engine.grid.axes import AxisError, parse_axis
from studio.engine.grid.cells import GridPlan, plan_grid
from studio.ui.grid_lora_axis import LoraAxisPicker
from studio.ui.grid_run import GridRun

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

CELL_PIXELS = 160


def _pixmap(array: np.ndarray) -> QPixmap:
    data = np.ascontiguousarray(array[..., :3], dtype=np.uint8)
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image)


class GridCellsView(QWidget):
    """The cells of one plan (the first Z value's grid first, each Z below the last), with the
    X labels above the columns and the Y labels at the left of the rows."""

    def __init__(self, plan: GridPlan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plan = plan
        self.cells: list[QLabel] = []
        layout = QGridLayout(self)
        layout.setSpacing(4)
        # Packed at the top left: the cells sit side by side as the grid image will show them.
        layout.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        columns, rows = plan.size(0), plan.size(1)
        for x, text in enumerate(plan.labels(0)):
            layout.addWidget(self._label(text, Qt.AlignmentFlag.AlignCenter), 0, x + 1)
        for cell in plan.cells:
            row = 1 + cell.z * (rows + 1) + cell.y + (1 if cell.z else 0)
            if cell.x == 0:
                row_label = self._label(plan.labels(1)[cell.y], Qt.AlignmentFlag.AlignRight
                                        | Qt.AlignmentFlag.AlignVCenter)
                # Short labels on one line; long ones wrap within a cell's width.
                row_label.setMinimumWidth(min(row_label.fontMetrics().horizontalAdvance(row_label.text()) + 8,
                                              CELL_PIXELS))
                layout.addWidget(row_label, row, 0)
                if cell.y == 0 and len(plan.axes) > 2:
                    layout.addWidget(self._label(plan.labels(2)[cell.z], Qt.AlignmentFlag.AlignLeft), row - 1, 1,
                                     1, columns)
            box = QLabel()
            box.setFixedSize(CELL_PIXELS, CELL_PIXELS)
            box.setAlignment(Qt.AlignmentFlag.AlignCenter)
            box.setObjectName("GridCell")
            box.setStyleSheet("QLabel#GridCell { background: #202024; border: 1px solid #3a3a40; color: #888; }")
            box.setText("waiting")
            box.setToolTip(cell.request.prompt)
            self.cells.append(box)
            layout.addWidget(box, row, cell.x + 1)

    def _label(self, text: str, align: Qt.AlignmentFlag) -> QLabel:
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.PlainText)  # a prompt S/R value is the user's text
        label.setWordWrap(True)
        label.setMaximumWidth(CELL_PIXELS)
        label.setAlignment(align)
        return label

    def show_picture(self, index: int, array: np.ndarray) -> None:
        box = self.cells[index]
        box.setPixmap(_pixmap(array).scaled(CELL_PIXELS - 2, CELL_PIXELS - 2, Qt.AspectRatioMode.KeepAspectRatio,
                                            Qt.TransformationMode.SmoothTransformation))


class GridDialog(QDialog):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("X/Y/Z grid")
        self._window = window
        self.run: GridRun | None = None
        self.view: GridCellsView | None = None
        self.saved: list[str] = []
        self.axes = [QLineEdit(self) for _ in range(3)]
        for edit, hint in zip(self.axes, ("guidance=1,3,5", "seed=1-4", "steps=10-30 (+10)"), strict=True):
            edit.setPlaceholderText(f"e.g. {hint}")
        self.axes[0].setText("guidance=1,3,5")
        self.axes[1].setText("seed=1,2")
        form = QFormLayout()
        for name, edit in zip("XYZ", self.axes, strict=True):
            form.addRow(f"{name} axis", edit)
        self.lora_picker = LoraAxisPicker(window.paths, window.settings, self)
        self.lora_picker.chosen.connect(self._on_lora_axis)
        form.addRow("LoRA", self.lora_picker)
        hint = QLabel("seed, steps, guidance, sampler, size, model, prompt=search,replace…, lora:NAME=weights. "
                      "Values: 1,3,5 or 1-9 (+2) or 1-9 [5]. The other settings come from the main window.")
        hint.setWordWrap(True)
        hint.setObjectName("Hint")
        self.run_button = QPushButton("Run grid")
        self.cancel_button = QPushButton("Cancel the rest")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        self.status.setMinimumHeight(2 * self.status.fontMetrics().lineSpacing() + 4)  # a wrapped name stays whole
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        self.scroll = QScrollArea(self)
        self.scroll.setWidgetResizable(True)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(hint)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.scroll, 1)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self._on_cancel)
        self.resize(720, 640)

    @Slot()
    def start(self) -> GridRun | None:
        problems = self._window.controls.problems()
        if problems:
            self.status.setText(problems[0])
            return None
        try:
            axes = [parse_axis(edit.text()) for edit in self.axes if edit.text().strip()]
            if not axes:
                raise AxisError("Type at least the X axis, e.g. guidance=1,3,5.")
            plan = plan_grid(self._window.controls.submitted_request(), axes)
        except AxisError as error:
            self.status.setText(str(error))
            return None
        bad = sorted({p for cell in plan.cells for p in cell.request.problems()})
        if bad:
            self.status.setText(" ".join(bad))
            return None
        self.view = GridCellsView(plan)
        self.scroll.setWidget(self.view)
        self.saved = []
        self.run = GridRun(plan, self._window.controller, Path(self._window.gallery_dir()), self)
        self.run.cell_preview.connect(self.view.show_picture)
        self.run.finished.connect(self._on_finished)
        self.run.stopped.connect(self._on_stopped)
        self.run.start()
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Running {len(plan.cells)} cells as queued jobs…")
        return self.run

    @Slot(str)
    def _on_lora_axis(self, text: str) -> None:
        """Into the first empty axis, else the last one."""
        edit = next((e for e in self.axes if not e.text().strip()), self.axes[-1])
        edit.setText(text)

    def done(self, result: int) -> None:
        self.lora_picker.wait()  # the library read ends before the dialog goes
        super().done(result)

    @Slot()
    def _on_cancel(self) -> None:
        if self.run is not None:
            self.run.cancel()

    @Slot(str)
    def _on_finished(self, path: str) -> None:
        self.saved.append(path)
        self._window.picture_saved.emit(path)
        self.status.setText(f"Saved the grid {Path(path).name} and its cells to the gallery.")
        self._done()

    @Slot(str)
    def _on_stopped(self, message: str) -> None:
        self.status.setText(message)
        self._done()

    def _done(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
