"""The thumbnail pool survives any error in a job: the image gets a reason, the slot is freed."""

from __future__ import annotations

import gc
import logging
from pathlib import Path

import pytest

from studio.library.gallery import Gallery
from studio.library.thumbnails import ThumbnailCache
from studio.ui.gallery.delegate import TILE
from studio.ui.gallery.loader import ThumbnailLoader
from tests.gallery_ui_helpers import fill_gallery, png_that_pillow_fails_on


@pytest.fixture
def gallery(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Gallery.for_folder(tmp_path / "gallery") as opened:
        yield opened


@pytest.fixture
def loaders():  # type: ignore[no-untyped-def]
    made: list[ThumbnailLoader] = []
    yield made
    for loader in made:
        loader.shutdown()
    made.clear()
    gc.collect()


class BrokenCache(ThumbnailCache):
    """The library's disk cache, but files named `broken*` fail in a way nobody planned for."""

    def get(self, image_path: Path, size: int) -> Path:
        if image_path.name.startswith("broken"):
            raise RuntimeError("an error nobody planned for")
        return super().get(image_path, size)


def test_images_pillow_fails_on_get_a_reason_and_others_still_load(
    qtbot, gallery: Gallery, loaders: list[ThumbnailLoader]
) -> None:
    bad = [str(png_that_pillow_fails_on(gallery.folder / f"odd{i}.png")) for i in range(3)]
    good = [str(p) for p in fill_gallery(gallery, 2)]
    loader = ThumbnailLoader(gallery.thumbnails, TILE, threads=2)
    loaders.append(loader)
    failed: list[str] = []
    ready: list[str] = []
    loader.thumbnail_failed.connect(lambda path, _why: failed.append(path))
    loader.thumbnail_ready.connect(ready.append)
    for path in bad:
        loader.request(path)
    qtbot.waitUntil(lambda: len(failed) == 3, timeout=5000)
    for path in good:
        loader.request(path)
    qtbot.waitUntil(lambda: len(ready) == 2, timeout=5000)
    assert sorted(failed) == sorted(bad) and sorted(ready) == sorted(good)
    for path in bad:
        reason = loader.failure(path)
        assert reason and Path(path).name in reason and "IndexError" not in reason


def test_an_unexpected_error_frees_the_slot_and_is_logged(
    qtbot, gallery: Gallery, loaders: list[ThumbnailLoader], caplog: pytest.LogCaptureFixture
) -> None:
    good = [str(p) for p in fill_gallery(gallery, 3)]
    broken = [str(png_that_pillow_fails_on(gallery.folder / f"broken{i}.png")) for i in range(2)]
    loader = ThumbnailLoader(BrokenCache(gallery.thumbnails.cache_dir), TILE, threads=2)
    loaders.append(loader)
    failed: dict[str, str] = {}
    ready: list[str] = []
    loader.thumbnail_failed.connect(failed.__setitem__)
    loader.thumbnail_ready.connect(ready.append)
    with caplog.at_level(logging.ERROR):
        for path in broken:
            loader.request(path)
        qtbot.waitUntil(lambda: len(failed) == 2, timeout=5000)
        for path in good:
            loader.request(path)
        qtbot.waitUntil(lambda: len(ready) == 3, timeout=5000)
    for path in broken:
        assert Path(path).name in failed[path]
        assert "RuntimeError" not in failed[path] and "nobody planned" not in failed[path]
        assert loader.failure(path) == failed[path]
    logged = [r for r in caplog.records if r.exc_info and "nobody planned" in str(r.exc_info[1])]
    assert len(logged) == 2
