"""Crisp at 200%: the preview, the mask canvas, the compare slider, the result thumbnails and
the gallery's tiles reach the screen one picture pixel per device pixel.

The painting checks run tests/pixel_ratio_probe.py in a subprocess under QT_SCALE_FACTOR=2 (a
real 200% screen for Qt: every widget's devicePixelRatioF() is 2), and once at scale 1, where
the same one-pixel stripes shown smaller than they are must blur: so the check can fail."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from studio.library.gallery import Gallery
from studio.library.store import save_image
from studio.ui.gallery.delegate import TILE
from studio.ui.gallery.loader import ThumbnailLoader
from tests.gallery_ui_helpers import request_for

CRISP = 120.0  # of 127.5, the spread of perfect black-and-white stripes
ROOT = Path(__file__).resolve().parent.parent


def run_probe(scale: str) -> dict:
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale,
                        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "tests.pixel_ratio_probe"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def at_200() -> dict:
    return run_probe("2")


def test_the_preview_is_painted_in_device_pixels(at_200):
    assert at_200["ratio"] == 2.0
    assert at_200["preview_pixels"] == [576, 576]
    assert at_200["preview_contrast"] > CRISP
    # a picture larger than the view is shrunk once, to the device pixels it covers
    assert at_200["shrunk_ratio"] == 2.0
    assert at_200["shrunk_pixels"] == [2 * side for side in at_200["shrunk_logical"]]


def test_the_mask_canvas_compare_slider_and_result_thumbnails_are_crisp(at_200):
    assert at_200["mask_zoom"] < 0.6  # half size on the page: one device pixel per picture pixel
    assert at_200["mask_contrast"] > CRISP
    assert at_200["compare_contrast"] > CRISP
    assert at_200["thumb_pixels"] == [168, 168]
    assert at_200["thumb_contrast"] > CRISP


def test_at_scale_1_the_same_pictures_are_shown_smaller_and_blur():
    at_100 = run_probe("1")
    assert at_100["ratio"] == 1.0
    assert at_100["preview_contrast"] < 10 and at_100["thumb_contrast"] < 10
    assert at_100["shrunk_ratio"] == 1.0 and at_100["shrunk_pixels"] == at_100["shrunk_logical"]


def test_gallery_tiles_are_decoded_at_device_size(qtbot, tmp_path: Path):
    with Gallery.for_folder(tmp_path / "gallery") as gallery:
        picture = Image.new("RGB", (768, 512), (200, 40, 40))
        path = str(save_image(picture, request_for(0), gallery.folder))
        made = []
        try:
            for ratio in (1.0, 2.0):
                loader = ThumbnailLoader(gallery.thumbnails, TILE, threads=1, pixel_ratio=ratio)
                made.append(loader)
                with qtbot.waitSignal(loader.thumbnail_ready, timeout=10_000):
                    loader.request(path)
                pixmap = loader.pixmap(path)
                assert pixmap is not None
                assert pixmap.devicePixelRatio() == ratio
                assert pixmap.width() == round(TILE.width() * ratio)  # 3:2, fitted to the tile's width
                assert pixmap.deviceIndependentSize().width() == TILE.width()
        finally:
            for loader in made:
                loader.shutdown()
            gc.collect()
