"""Variations and the hires fix: the run's noise blended with a second seed's, and a second,
larger pass that refines detail."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QPushButton, QSpinBox, QVBoxLayout, QWidget

from studio.engine.run.request import HIRES_SCALE_RANGE, SEED_MAX, STEPS_RANGE, GenerationRequest
from studio.engine.upscale.catalogue import LANCZOS, list_upscalers
from studio.ui.theme import icon
from studio.ui.widgets import SeedSpinBox, SlidingSpinBox, plain_label, section_label

DEFAULT_VARIATION_STRENGTH = 0.25
DEFAULT_HIRES_SCALE = 2.0


class RefinePanel(QWidget):
    """The variation seed and strength, and the hires pass (scale, strength, steps, upscaler).

    Each part is off until ticked, so a plain run stays a plain run.

    Signals:
        changed(): any value changed.
        notice(str): something of a reused request could not be shown as it was.
    """

    changed = Signal()
    notice = Signal(str)

    def __init__(self, models_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("RefinePanel")
        self._models_dir = models_dir
        self._build()
        self.refresh_upscalers()
        self._refresh()

    def _build(self) -> None:
        self.variation_box = QCheckBox("Variation")
        self.variation_box.setToolTip("Blend the starting noise with a second seed's: the same picture, varied")
        self.variation_seed = SeedSpinBox(SEED_MAX)
        self.variation_seed.setAccessibleName("Variation seed")
        self.variation_seed.setToolTip("The second seed; each image of a batch takes the next one")
        self.new_variation = QPushButton(icon("dice"), "")
        self.new_variation.setToolTip("A new variation seed")
        self.new_variation.setAccessibleName("New variation seed")
        self.variation_strength = SlidingSpinBox(0.0, 1.0, decimals=2, step=0.05)
        self.variation_strength.setValue(DEFAULT_VARIATION_STRENGTH)
        self.variation_strength.setToolTip("0 is the seed's own picture, 1 the variation seed's")

        self.hires_box = QCheckBox("Hires fix")
        self.hires_box.setToolTip("Generate, upscale, then refine at the larger size: detail the model "
                                  "would compose badly from noise at that size")
        self.hires_scale = SlidingSpinBox(*HIRES_SCALE_RANGE, decimals=2, step=0.25)
        self.hires_scale.setValue(DEFAULT_HIRES_SCALE)
        self.hires_scale.setToolTip("How much larger the second pass is")
        self.hires_strength = SlidingSpinBox(0.0, 1.0, decimals=2, step=0.05)
        self.hires_strength.setValue(0.5)
        self.hires_strength.setToolTip("How far the upscaled picture is noised before it is refined")
        self.hires_steps = QSpinBox()
        self.hires_steps.setRange(0, STEPS_RANGE[1])
        self.hires_steps.setSpecialValueText("Same as steps")
        self.hires_steps.setAccessibleName("Hires steps")
        self.hires_steps.setToolTip("The second pass's step count, of which the strength's share runs")
        self.upscaler = QComboBox()
        self.upscaler.setAccessibleName("Hires upscaler")
        self.upscaler.setToolTip("How the first picture is enlarged: Lanczos, or a model in upscalers/")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(section_label("Refine"))
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setColumnStretch(1, 1)
        grid.addWidget(self.variation_box, 0, 0, 1, 2)
        grid.addWidget(plain_label("Seed", "HintLabel"), 1, 0)
        seed_row = QWidget()
        seed_layout = QGridLayout(seed_row)
        seed_layout.setContentsMargins(0, 0, 0, 0)
        seed_layout.setColumnStretch(0, 1)
        seed_layout.addWidget(self.variation_seed, 0, 0)
        seed_layout.addWidget(self.new_variation, 0, 1)
        grid.addWidget(seed_row, 1, 1)
        grid.addWidget(plain_label("Strength", "HintLabel"), 2, 0)
        grid.addWidget(self.variation_strength, 2, 1)
        grid.addWidget(self.hires_box, 3, 0, 1, 2)
        grid.addWidget(plain_label("Scale", "HintLabel"), 4, 0)
        grid.addWidget(self.hires_scale, 4, 1)
        grid.addWidget(plain_label("Strength", "HintLabel"), 5, 0)
        grid.addWidget(self.hires_strength, 5, 1)
        grid.addWidget(plain_label("Steps", "HintLabel"), 6, 0)
        grid.addWidget(self.hires_steps, 6, 1)
        grid.addWidget(plain_label("Upscaler", "HintLabel"), 7, 0)
        grid.addWidget(self.upscaler, 7, 1)
        layout.addLayout(grid)
        self._variation_widgets = [self.variation_seed, self.new_variation, self.variation_strength]
        self._hires_widgets = [self.hires_scale, self.hires_strength, self.hires_steps, self.upscaler]

        self.new_variation.clicked.connect(self.draw_variation_seed)
        for box in (self.variation_box, self.hires_box):
            box.toggled.connect(self._on_changed)
        for spin in (self.variation_seed, self.hires_steps):
            spin.valueChanged.connect(self._on_changed)
        for sliding in (self.variation_strength, self.hires_scale, self.hires_strength):
            sliding.valueChanged.connect(self._on_changed)
        self.upscaler.currentIndexChanged.connect(self._on_changed)

    def refresh_upscalers(self) -> None:
        """List Lanczos and the models in upscalers/ again, keeping the choice where it still exists."""
        chosen = self.upscaler.currentText() or LANCZOS
        self.upscaler.blockSignals(True)
        self.upscaler.clear()
        for upscaler in list_upscalers(self._models_dir):
            self.upscaler.addItem(upscaler.name)
        self._choose_upscaler(chosen)
        self.upscaler.blockSignals(False)

    def _choose_upscaler(self, name: str) -> bool:
        index = self.upscaler.findText(name)
        if index < 0:
            return False
        self.upscaler.setCurrentIndex(index)
        return True

    @Slot()
    def draw_variation_seed(self) -> None:
        self.variation_seed.setValue(secrets.randbelow(SEED_MAX + 1))

    def fields(self) -> dict[str, Any]:
        """The request fields these controls set; the defaults where a part is off."""
        values: dict[str, Any] = {"variation_seed": None, "variation_strength": 0.0, "hires_scale": 1.0}
        if self.variation_box.isChecked():
            values["variation_seed"] = self.variation_seed.seed()
            values["variation_strength"] = round(float(self.variation_strength.value()), 4)
        if self.hires_box.isChecked():
            values.update(
                hires_scale=round(float(self.hires_scale.value()), 4),
                hires_strength=round(float(self.hires_strength.value()), 4),
                hires_steps=int(self.hires_steps.value()),
                hires_upscaler=self.upscaler.currentText() or LANCZOS,
            )
        return values

    def apply_request(self, request: GenerationRequest) -> None:
        """Show `request`'s variation and hires settings; an upscaler that is not in upscalers/
        here is said in a notice, and Lanczos is chosen instead."""
        varied = request.variation_seed is not None and request.variation_strength > 0
        self.variation_box.setChecked(varied)
        if request.variation_seed is not None:
            self.variation_seed.setValue(min(int(request.variation_seed), SEED_MAX))
        if varied:
            self.variation_strength.setValue(float(request.variation_strength))
        hires = request.hires_scale > 1
        self.hires_box.setChecked(hires)
        if hires:
            self.hires_scale.setValue(float(request.hires_scale))
            self.hires_strength.setValue(float(request.hires_strength))
            self.hires_steps.setValue(int(request.hires_steps))
            if not self._choose_upscaler(request.hires_upscaler):
                self._choose_upscaler(LANCZOS)
                self.notice.emit(f"The upscaler “{request.hires_upscaler}” is not in the models folder's "
                                 "upscalers/; Lanczos is chosen instead.")
        self._refresh()

    def vary(self, strength: float = DEFAULT_VARIATION_STRENGTH) -> None:
        """Turn variations on with a fresh variation seed: the next run varies the current seed's picture."""
        self.variation_box.setChecked(True)
        self.variation_strength.setValue(strength)
        self.draw_variation_seed()

    @Slot()
    def _on_changed(self, *_: object) -> None:
        self._refresh()
        self.changed.emit()

    def _refresh(self) -> None:
        for widget in self._variation_widgets:
            widget.setEnabled(self.variation_box.isChecked())
        for widget in self._hires_widgets:
            widget.setEnabled(self.hires_box.isChecked())
