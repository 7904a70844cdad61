"""Real galleries on disk for the gallery view tests: PNGs written by the library's save."""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from studio.engine.run.request import GenerationRequest
from studio.library.gallery import Gallery
from studio.library.index import GalleryIndex
from studio.library.store import save_image

PROMPTS = (
    "a red fox in the snow",
    "an owl at night, moonlight",
    "a castle on a hill at golden hour",
    "a lighthouse in the mist",
    "a red dragon over the sea",
)
COLORS = ((200, 40, 40), (40, 160, 60), (40, 80, 200), (220, 200, 40), (150, 60, 170))


def request_for(i: int) -> GenerationRequest:
    return GenerationRequest(
        prompt=PROMPTS[i % len(PROMPTS)],
        negative_prompt="blurry",
        seed=1000 + i,
        steps=12 + i,
        guidance=6.5,
        width=64,
        height=64,
        scheduler="Euler a",
    )


def fill_gallery(gallery: Gallery, count: int = 5) -> list[Path]:
    """`count` images, one minute apart (oldest first), saved and indexed by the library."""
    start = datetime(2025, 3, 1, 10, 0, 0).astimezone()
    paths = []
    for i in range(count):
        image = Image.new("RGB", (64, 64), COLORS[i % len(COLORS)])
        path = save_image(image, request_for(i), gallery.folder, now=start + timedelta(minutes=i))
        gallery.index.add(path)
        paths.append(path)
    return paths


def use_trash_in(home: Path, monkeypatch: Any) -> Path:
    """Point the system trash at a folder of the test; returns where trashed files go.

    send2trash reads XDG_DATA_HOME when it is imported, so its module paths move too.
    """
    from send2trash import plat_other

    data = home / ".local" / "share"
    data.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(data))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(data / "Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(data / "Trash"))
    return data / "Trash" / "files"


def png_that_pillow_fails_on(path: Path) -> Path:
    """A PNG whose pixels decode but whose trailing chunks make Pillow raise IndexError, not
    OSError: an iCCP chunk after the image data that ends right after the profile's name."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 90, 150)).save(buffer, format="PNG")
    data = buffer.getvalue()
    end = data.rfind(b"IEND") - 4
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[:end] + _chunk(b"iCCP", b"icc\0") + data[end:])
    return path


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


class WatchedIndex(GalleryIndex):
    """The library's index, noting which threads change files, and holding each change until
    `release` is set (a slow disk); with `fail_with` set, each change raises it instead."""

    def __init__(self, db_path: Path, gallery_dir: Path) -> None:
        super().__init__(db_path, gallery_dir)
        self.writers: list[threading.Thread] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_with: Exception | None = None

    def _hold(self) -> None:
        self.writers.append(threading.current_thread())
        self.entered.set()
        self.release.wait(10)
        if self.fail_with is not None:
            raise self.fail_with

    def set_favorite(self, path: Path, favorite: bool) -> None:
        self._hold()
        super().set_favorite(path, favorite)

    def set_rating(self, path: Path, rating: int) -> None:
        self._hold()
        super().set_rating(path, rating)

    def delete(self, path: Path) -> None:
        self._hold()
        super().delete(path)

    def reconcile(self, progress: Any = None) -> Any:
        if self.fail_with is not None:
            raise self.fail_with
        return super().reconcile(progress)


def watch_index(gallery: Gallery) -> WatchedIndex:
    """Swap the gallery's index for a WatchedIndex on the same database (before a panel is made)."""
    gallery.index.close()
    gallery.index = WatchedIndex(gallery.index.db_path, gallery.folder)
    return gallery.index


def settle(qtbot: Any, panel: Any) -> None:
    """Wait until every favorite, rating and trash the panel asked for has been answered."""
    qtbot.waitUntil(lambda: not panel.curator.busy(), timeout=5000)
