"""An X/Y grid in the real window on the built-in demo model: cells run as queued jobs with
previews in their places, each saved with its own metadata, the labeled grid last; cancel stops the rest."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PIL import Image

from studio.config.paths import StudioPaths
from studio.library.grid_image import GRID_CHUNK
from tests.ui_helpers import OFFSCREEN_NOISE, STEP_TIMEOUT_MS, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
SHOTS = os.environ.get("STUDIO_SHOTS")  # a folder to keep the dialog's picture in


def _demo_window(qtbot, tmp_path: Path, *, steps: int):  # type: ignore[no-untyped-def]
    window = open_window(qtbot, StudioPaths.under(tmp_path / "home"))
    panel = window.parameters
    panel.prompt.setPlainText("a yellow star on a purple background")
    panel.steps.setValue(steps)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    return window


def _chunk(path: Path) -> dict[str, object]:
    raw = path.read_bytes()
    start = raw.index(GRID_CHUNK) + 4
    length = int.from_bytes(raw[start - 8 : start - 4], "big")
    return json.loads(raw[start : start + length])  # type: ignore[no-any-return]


def test_a_2x2_grid_runs_through_the_queue_and_lands_in_the_gallery(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from studio.library.gallery import Gallery
    from studio.ui.gallery import install_gallery

    window = _demo_window(qtbot, tmp_path, steps=4)
    paths = window.paths
    gallery = install_gallery(window, Gallery(window.gallery_dir(), paths.index_file, paths.thumbnail_dir))
    dialog = window.open_grid_dialog()
    qtbot.addWidget(dialog)
    dialog.axes[0].setText("guidance=1,3")
    dialog.axes[1].setText("seed=1,2")
    previews: list[int] = []
    run = dialog.start()
    assert run is not None and len(window.controller.queued) + (window.controller.current is not None) == 4
    run.cell_preview.connect(lambda index, _array: previews.append(index))
    with qtbot.waitSignal(run.finished, timeout=STEP_TIMEOUT_MS):
        pass
    assert set(previews) == {0, 1, 2, 3}  # every cell painted in its own place
    assert all(not box.pixmap().isNull() for box in dialog.view.cells)
    seen = []
    for index in range(4):
        with Image.open(run.files[index]) as image:
            request = json.loads(image.text["studio"])["request"]
        seen.append((request["guidance"], request["seed"]))
    assert seen == [(1.0, 1), (3.0, 1), (1.0, 2), (3.0, 2)]
    grid_path = Path(dialog.saved[0])
    assert grid_path.is_relative_to(window.gallery_dir())
    described = _chunk(grid_path)
    assert described["axes"] == {"x": {"axis": "guidance=1,3", "labels": ["CFG: 1", "CFG: 3"]},
                                 "y": {"axis": "seed=1,2", "labels": ["Seed: 1", "Seed: 2"]}}
    assert described["cells"] == [Path(run.files[i]).name for i in range(4)]
    with Image.open(grid_path) as grid:
        assert grid.width > 2 * 64 and grid.height > 2 * 64
    assert "Saved the grid" in dialog.status.text()
    # the open gallery shows the grid image at once, not only after its next look at the folder
    assert gallery.model.position(grid_path) >= 0
    gallery.shutdown()
    if SHOTS:
        dialog.grab().save(str(Path(SHOTS) / "grid_dialog.png"))
        Image.open(grid_path).save(Path(SHOTS) / "grid_image.png")


def test_cancel_mid_grid_stops_the_rest_and_keeps_what_was_made(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    window = _demo_window(qtbot, tmp_path, steps=12)
    dialog = window.open_grid_dialog()
    qtbot.addWidget(dialog)
    dialog.axes[0].setText("steps=12,13")
    dialog.axes[1].setText("seed=1,2")
    run = dialog.start()
    assert run is not None
    with qtbot.waitSignal(run.cell_done, timeout=STEP_TIMEOUT_MS):
        pass
    with qtbot.waitSignal(run.stopped, timeout=STEP_TIMEOUT_MS) as stopped:
        dialog.cancel_button.click()
    assert stopped.args[0].startswith("Grid cancelled: ")
    assert 1 <= len(run.files) < 4
    assert window.controller.queued == []
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=STEP_TIMEOUT_MS)
    grids = [p for p in window.gallery_dir().rglob("*.png") if GRID_CHUNK in p.read_bytes()]
    assert grids == []  # no grid image of a grid that did not finish
    assert dialog.run_button.isEnabled()
