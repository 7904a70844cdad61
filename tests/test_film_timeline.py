"""The film timeline scrubs a stored film after a restart; the noise view asks, debounced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")

from studio.engine.run.request import GenerationRequest
from studio.library.film import film_chunk
from studio.library.store import save_image


def _frames(count: int) -> list[np.ndarray]:
    """A film that brightens step by step: frame k is flat grey k * 20."""
    return [np.full((8, 12, 3), 20 * (k + 1), np.uint8) for k in range(count)]


def _grey_of(timeline: object) -> int:
    frame = timeline.current_frame()  # type: ignore[attr-defined]
    assert frame is not None
    return int(frame.mean())


def test_slider_scrubs_a_film_read_back_from_a_gallery_png(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from studio.ui.timeline import FilmTimeline

    request = GenerationRequest(prompt="grey", steps=6, width=24, height=16, seed=1)
    picture = Image.new("RGB", (24, 16), (120, 120, 120))
    path = save_image(picture, request, tmp_path, extra_chunks=film_chunk(_frames(6)))

    timeline = FilmTimeline()  # a fresh widget: as after a restart, only the file remains
    qtbot.addWidget(timeline)
    assert timeline.load_file(path)
    assert timeline.frame_count == 6
    assert timeline.label.text() == "Step 6 / 6"
    assert abs(_grey_of(timeline) - 120) <= 3
    with qtbot.waitSignal(timeline.step_changed) as blocker:
        timeline.slider.setValue(2)
    assert blocker.args == [2]
    assert abs(_grey_of(timeline) - 40) <= 3
    assert timeline.label.text() == "Step 2 / 6"
    shown = timeline.view.pixmap()
    assert shown is not None and (shown.width(), shown.height()) == (12, 8)


def test_an_image_without_film_says_so(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from studio.ui.timeline import FilmTimeline

    request = GenerationRequest(prompt="plain", steps=4, width=8, height=8, seed=1)
    path = save_image(Image.new("RGB", (8, 8)), request, tmp_path)
    timeline = FilmTimeline()
    qtbot.addWidget(timeline)
    assert not timeline.load_file(path)
    assert timeline.frame_count == 0 and not timeline.slider.isEnabled()
    assert timeline.view.pixmap() is None


def test_noise_slider_asks_once_per_pause_and_drops_stale_pictures(qtbot) -> None:  # type: ignore[no-untyped-def]
    from studio.ui.timeline import NoiseView

    view = NoiseView()
    qtbot.addWidget(view)
    asked: list[float] = []
    view.noise_requested.connect(asked.append)
    with qtbot.waitSignal(view.noise_requested, timeout=2000):
        for value in (10, 20, 30, 40):
            view.slider.setValue(value)
    assert asked == [0.4]
    assert view.label.text() == "Noise 40%"
    view.show_noised(0.1, np.zeros((4, 4, 3), np.uint8))  # stale: the slider is at 40%
    assert view.view.pixmap() is None
    view.show_noised(0.4, np.full((4, 4, 3), 200, np.uint8))
    pixmap = view.view.pixmap()
    assert pixmap is not None and pixmap.width() == 4
