"""Thumbnails: made once, found again, remade when the image changes, safe across threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

from studio.library.metadata import UnreadableImage
from studio.library.thumbnails import ThumbnailCache


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
