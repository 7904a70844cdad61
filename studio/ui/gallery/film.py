"""The viewer's timeline: scrub the image's denoising film, and noise it the way the model does.

Both sliders drive the viewer's one large canvas, so a frame is seen as big as the image;
letting go at the last step (or at no noise) shows the image itself again.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QGridLayout, QWidget

from studio.ui.gallery.viewer import ImageViewer
from studio.ui.timeline import NOISE_STEPS, FilmTimeline, NoiseView
from studio.ui.widgets import section_label


class ViewerTimeline(QWidget):
    """A step slider over the film kept in the file and, when `noise`, a forward-noise slider.

    Signals:
        noise_requested(str, float): noise this image to this fraction of the schedule (0..1);
            answer with `show_noised`.
    """

    noise_requested = Signal(str, float)

    def __init__(self, path: Path, viewer: ImageViewer, *, noise: bool) -> None:
        super().__init__()
        self.setObjectName("ViewerTimeline")
        self.path = Path(path)
        self._viewer = viewer
        self.film = FilmTimeline()
        self.film.view.hide()  # the viewer's canvas shows the frames, as large as the image
        self.has_film = self.film.load_file(self.path)
        self.noise: NoiseView | None = NoiseView() if noise else None
        layout = QGridLayout(self)
        layout.setContentsMargins(4, 2, 4, 0)
        layout.setHorizontalSpacing(12)
        layout.setVerticalSpacing(2)
        layout.setColumnStretch(1, 1)
        if self.has_film:
            layout.addWidget(section_label("Steps"), 0, 0)
            layout.addWidget(self.film, 0, 1)
            self.film.step_changed.connect(self._on_step)
        if self.noise is not None:
            self.noise.view.hide()
            self.noise.setToolTip(
                "The image noised by the model's own scheduler: where image-to-image at "
                "this strength would start"
            )
            layout.addWidget(section_label("Noise"), 1, 0)
            layout.addWidget(self.noise, 1, 1)
            self.noise.noise_requested.connect(self._on_noise)

    @property
    def useful(self) -> bool:
        return self.has_film or self.noise is not None

    @Slot(int)
    def _on_step(self, step: int) -> None:
        frame = self.film.current_frame()
        if step >= self.film.frame_count or frame is None:
            self._viewer.show_picture()
        else:
            self._viewer.image_view.show_array(frame, self._viewer.picture_size())

    @Slot(float)
    def _on_noise(self, fraction: float) -> None:
        if fraction <= 0:
            self._viewer.show_picture()
        else:
            self.noise_requested.emit(str(self.path), fraction)

    def show_noised(self, fraction: float, image: np.ndarray) -> bool:
        """Show a noised picture unless the slider has moved on since it was asked for."""
        if self.noise is None or abs(fraction - self.noise.fraction) >= 0.5 / NOISE_STEPS:
            return False
        self._viewer.image_view.show_array(image, self._viewer.picture_size())
        return True
