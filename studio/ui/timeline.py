"""Scrubbing a run's denoising film, and the forward-noise view beside it.

Frames are painted by PreviewView: nearest neighbour when enlarged, so small previews stay crisp.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from studio.library.film import FilmError, read_film
from studio.ui.preview import PreviewView

NOISE_STEPS = 100  # the noise slider's resolution: t in hundredths of the training schedule
NOISE_DEBOUNCE_MS = 60  # a dragged slider asks for one noised image per pause, not per pixel


def _plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


class FilmTimeline(QWidget):
    """A film of step previews with a slider that scrubs through the steps.

    Signals:
        step_changed(int): the 1-based step now shown.
    """

    step_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._frames: list[np.ndarray] = []
        self._frame_size = QSize()
        self.view = PreviewView(self)
        self.view.clear("No film: previews were off for this image.")
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setMinimum(1)
        self.slider.setEnabled(False)
        self.slider.setAccessibleName("Denoising step")
        self.label = _plain_label()
        _stack(self, self.view, self.slider, self.label)
        self.slider.valueChanged.connect(self._on_slider_moved)

    @property
    def frame_count(self) -> int:
        return len(self._frames)

    def set_film(self, frames: list[np.ndarray], frame_size: QSize | None = None) -> None:
        """Show a film (one HxWx3 uint8 frame per step), at its last step.

        `frame_size` is the size of the final image the frames stand for.
        """
        self._frames = list(frames)
        self._frame_size = frame_size or QSize()
        count = len(self._frames)
        self.slider.setEnabled(count > 1)
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(1, count))
        self.slider.setValue(max(1, count))
        self.slider.blockSignals(False)
        if count:
            self._show(count)
        else:
            self.view.clear("No film: previews were off for this image.")
            self.label.setText("")

    def load_file(self, path: Path) -> bool:
        """Show the film kept in a gallery PNG; False (with the reason shown) if it has none."""
        try:
            frames = read_film(path)
        except FilmError as error:
            self.set_film([])
            self.view.clear(str(error))
            return False
        self.set_film(frames)
        return True

    def current_frame(self) -> np.ndarray | None:
        return self._frames[self.slider.value() - 1] if self._frames else None

    @Slot(int)
    def _on_slider_moved(self, step: int) -> None:
        if self._frames:
            self._show(step)
            self.step_changed.emit(step)

    def _show(self, step: int) -> None:
        self.view.show_array(self._frames[step - 1], self._frame_size or None)
        self.label.setText(f"Step {step} / {len(self._frames)}")


class NoiseView(QWidget):
    """The forward process: the image noised to t by the model's own scheduler.

    The owner computes the noised picture off the GUI thread (engine.previews.forward) and
    hands it to `show_noised`; this widget only asks, debounced, while the slider moves.

    Signals:
        noise_requested(float): show the image noised to this fraction of the schedule (0..1).
    """

    noise_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = PreviewView(self)
        self.view.clear("Noise: drag the slider to add the model's own noise.")
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, NOISE_STEPS)
        self.slider.setAccessibleName("Noise level")
        self.label = _plain_label("Noise 0%")
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(NOISE_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._on_settled)
        _stack(self, self.view, self.slider, self.label)
        self.slider.valueChanged.connect(self._on_slider_moved)

    @property
    def fraction(self) -> float:
        return self.slider.value() / NOISE_STEPS

    def show_noised(self, fraction: float, image: np.ndarray) -> None:
        """Show a noised picture; a stale one (the slider has moved on) is dropped."""
        if abs(fraction - self.fraction) < 0.5 / NOISE_STEPS:
            self.view.show_array(image)

    @Slot(int)
    def _on_slider_moved(self, value: int) -> None:
        self.label.setText(f"Noise {value}%")
        self._debounce.start()

    @Slot()
    def _on_settled(self) -> None:
        self.noise_requested.emit(self.fraction)


def _stack(owner: QWidget, view: QWidget, slider: QSlider, label: QLabel) -> None:
    """The view above a row of the slider and its label."""
    row = QHBoxLayout()
    row.addWidget(slider, 1)
    row.addWidget(label)
    layout = QVBoxLayout(owner)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(view, 1)
    layout.addLayout(row)
