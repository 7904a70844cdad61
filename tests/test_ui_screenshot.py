"""`studio --screenshot`: one real run on the default model, then a PNG of the window."""

from __future__ import annotations

import json
import shutil

import pytest
from PySide6.QtGui import QImage

from studio.app import screenshot
from studio.config.paths import StudioPaths
from tests.ui_helpers import OFFSCREEN_NOISE

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


def test_screenshot_generates_an_image_and_saves_the_window(qapp, tmp_path, tiny_sd_model, shared_engine):
    paths = StudioPaths.under(tmp_path / "home")
    model = paths.models_dir / "tiny-shot"
    shutil.copytree(tiny_sd_model, model)
    (model / "studio.json").write_text(
        json.dumps({"name": "Tiny", "defaults": {"steps": 2, "width": 32, "height": 32}}), encoding="utf-8"
    )
    out = tmp_path / "shots" / "window.png"

    code = screenshot(
        out, "a red circle", 11, paths=paths, model=str(model), engine_factory=lambda _registry: shared_engine
    )

    assert code == 0
    shot = QImage(str(out))
    assert not shot.isNull() and shot.width() >= 800 and shot.height() >= 500
    saved = list(paths.gallery_dir.rglob("*.png"))
    assert len(saved) == 1  # the generated image was written to the gallery folder too
    assert QImage(str(saved[0])).size().toTuple() == (32, 32)
    assert not paths.settings_file.exists()  # a screenshot leaves the user's settings alone
