"""Thumbnails: made once, found again, remade when the image changes, safe across threads."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from studio.library.metadata import UnreadableImage
from studio.library.pillow import configure_pillow, open_image
from studio.library.pngchunks import MAX_PIXELS
from studio.library.thumbnails import ThumbnailCache, thumbnail_bytes
from tests.gallery_ui_helpers import png_that_pillow_fails_on


def _image(path: Path, size: tuple[int, int], mode: str = "RGB") -> Path:
    color = (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)
    Image.new(mode, size, color).save(path)
    return path


def test_make_then_lookup(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    source = _image(tmp_path / "big.png", (640, 320))
    assert cache.lookup(source, 128) is None
    made = cache.make(source, 128)
    assert cache.lookup(source, 128) == made == cache.get(source, 128)
    with Image.open(made) as thumb:
        assert thumb.size == (128, 64) and thumb.format == "JPEG"
        red, green, _ = thumb.getpixel((64, 32))
        assert red > 180 and green < 60
    assert cache.lookup(source, 256) is None  # each size is its own entry


def test_changed_image_gets_a_new_thumbnail(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    source = _image(tmp_path / "a.png", (100, 100))
    old = cache.make(source, 64)
    _image(source, (200, 100))
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert cache.lookup(source, 64) is None
    new = cache.get(source, 64)
    assert new != old
    with Image.open(new) as thumb:
        assert thumb.size == (64, 32)


def test_transparent_and_jpeg_sources(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    with Image.open(cache.make(_image(tmp_path / "t.png", (50, 50), "RGBA"), 32)) as thumb:
        assert thumb.mode == "RGB"
    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (1024, 768), (0, 0, 255)).save(jpeg, quality=90)
    with Image.open(cache.make(jpeg, 96)) as thumb:
        assert thumb.size == (96, 72)


def test_threads_share_the_cache(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    sources = [_image(tmp_path / f"{i}.png", (120, 90 + i)) for i in range(12)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        made = list(pool.map(lambda p: cache.get(p, 48), sources * 3))
    assert len(set(made)) == 12
    leftovers = [p for p in (tmp_path / "thumbs").rglob("*") if p.name.startswith(".tmp")]
    assert leftovers == []


def test_bad_images_are_refused(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "thumbs")
    broken = tmp_path / "broken.png"
    good = _image(tmp_path / "good.png", (300, 300)).read_bytes()
    broken.write_bytes(good[: len(good) // 2])
    with pytest.raises(UnreadableImage):
        cache.make(broken, 64)
    with pytest.raises(UnreadableImage, match="no longer exists"):
        cache.make(tmp_path / "gone.png", 64)


def test_a_png_whose_decoder_raises_an_unusual_error_is_refused(tmp_path: Path) -> None:
    odd = png_that_pillow_fails_on(tmp_path / "odd.png")
    with pytest.raises(UnreadableImage, match=r"^odd\.png could not be read") as refused:
        ThumbnailCache(tmp_path / "thumbs").make(odd, 64)
    assert "IndexError" not in str(refused.value)


class WatchedPath(type(Path())):  # type: ignore[misc]
    """A real path that notes Pillow's process-wide settings whenever a reader opens it."""

    seen: list[tuple[bool, bool]]

    def __fspath__(self) -> str:
        WatchedPath.seen.append((ImageFile.LOAD_TRUNCATED_IMAGES, warnings.filters is FILTERS[0]))
        return super().__fspath__()


FILTERS: list[list[object]] = []


def test_making_a_thumbnail_leaves_pillows_process_settings_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _image(tmp_path / "plain.png", (90, 60))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # whatever the process chose
    FILTERS[:] = [warnings.filters]
    WatchedPath.seen = []
    assert thumbnail_bytes(WatchedPath(tmp_path / "plain.png"), 32).startswith(b"\xff\xd8")
    assert WatchedPath.seen, "the reader opened the file by its path"
    assert set(WatchedPath.seen) == {(True, True)}  # not flipped while reading, not after
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


@pytest.fixture
def pillow_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever a test configures is put back (pytest restores the warning filters itself)."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", ImageFile.LOAD_TRUNCATED_IMAGES)


@pytest.mark.usefixtures("pillow_settings")
def test_configure_pillow_sets_studios_policy_once() -> None:
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    configure_pillow()
    configure_pillow()
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    bomb = [f for f in warnings.filters if f[2] is Image.DecompressionBombWarning]
    assert bomb[0][0] == "error"  # the first matching filter wins
    assert [f[0] for f in bomb].count("error") == 1  # idempotent: not added twice


@pytest.mark.usefixtures("pillow_settings")
def test_an_image_over_the_pixel_budget_is_refused_before_decoding(tmp_path: Path) -> None:
    configure_pillow()
    wide = tmp_path / "wide.png"
    Image.new("1", (30000, 10000)).save(wide)  # 300 million pixels, a small file
    with pytest.raises(UnreadableImage, match=r"^wide\.png .*more pixels than Studio opens"):
        ThumbnailCache(tmp_path / "thumbs").make(wide, 64)
    with pytest.raises(UnreadableImage, match="more pixels than Studio opens"):
        open_image(wide)


def test_open_image_reads_only_the_header(tmp_path: Path) -> None:
    source = _image(tmp_path / "ok.png", (70, 50))
    with open_image(source) as image:
        assert image.size == (70, 50) and image.format == "PNG"
