"""Thumbnails for the grid, made and decoded off the GUI thread, newest request first.

A request goes on a LIFO stack: what was painted last (what is on screen now) loads first.
Pool threads take paths from the stack, get the JPEG from the library's disk cache (making it
when missing), decode it to a QImage scaled to the tile and hand it over by a queued signal.
The GUI thread turns it into a QPixmap (pixmaps belong to the GUI thread) and keeps it in an
LRU. Full-size images for the viewer are decoded the same way, one at a time.

Every job answers: whatever a file makes a decoder raise, the image is marked failed (its tile
shows a placeholder and the reason), the error is logged, and the pool thread goes on to the
next path, so one odd file never stops the thumbnails behind it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader, QPixmap

from studio.library.pngchunks import UnreadableImage
from studio.library.thumbnails import ThumbnailCache

DISK_SIZE = 256  # thumbnails on disk fit in 256 x 256; tiles show them smaller
LRU_CAPACITY = 400  # pixmaps kept in memory: several screens of tiles
MAX_PENDING = 256  # requests beyond this (scrolled far past) are dropped, oldest first
SCROLL_HOLD_S = 0.08  # no new thumbnail work until scrolling has paused this long
HOLD_POLL_S = 0.01
MAX_VIEW_PIXELS = 8192 * 8192
FAST = Qt.TransformationMode.FastTransformation
SMOOTH = Qt.TransformationMode.SmoothTransformation
TOO_BIG = "The image has more pixels than Studio opens."
log = logging.getLogger(__name__)


class _Bridge(QObject):
    """Lives on the GUI thread; pool threads emit through it (queued across threads)."""

    decoded = Signal(str, QImage)
    failed = Signal(str, str)
    full_decoded = Signal(str, QImage)
    full_failed = Signal(str, str)


class ThumbnailLoader(QObject):
    """Asynchronous thumbnails with an in-memory LRU of QPixmaps.

    Signals:
        thumbnail_ready(str): the pixmap for this path is now in `pixmap()`.
        thumbnail_failed(str, str): path, why no thumbnail could be made.
        image_ready(str, QImage): a full-size image asked for with `load_image`.
        image_failed(str, str): path, why the full image could not be read.
    """

    thumbnail_ready = Signal(str)
    thumbnail_failed = Signal(str, str)
    image_ready = Signal(str, QImage)
    image_failed = Signal(str, str)

    def __init__(
        self,
        cache: ThumbnailCache,
        tile: QSize,
        *,
        threads: int = 2,
        capacity: int = LRU_CAPACITY,
        pixel_ratio: float = 1.0,
        parent: QObject | None = None,
    ) -> None:
        """`pixel_ratio`: device pixels per tile pixel (2 on a 200% screen); thumbnails are
        decoded at the tile's size in device pixels so they stay sharp."""
        super().__init__(parent)
        self._cache = cache
        self._ratio = max(1.0, float(pixel_ratio))
        self._tile = QSize(round(tile.width() * self._ratio), round(tile.height() * self._ratio))
        # the disk thumbnails are made once at DISK_SIZE; a high-density tile needs larger ones
        self._disk_size = DISK_SIZE if max(self._tile.width(), self._tile.height()) <= DISK_SIZE else 2 * DISK_SIZE
        self._capacity = capacity
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stack: deque[str] = deque()
        self._pending: set[str] = set()
        self._draining = 0
        self._hold_until = 0.0
        self._closed = False
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, threads))
        self._bridge = _Bridge(self)
        self._bridge.decoded.connect(self._on_decoded)
        self._bridge.failed.connect(self._on_failed)
        self._bridge.full_decoded.connect(self._on_full_decoded)
        self._bridge.full_failed.connect(self.image_failed)

    # -- GUI-thread API ----------------------------------------------------------------

    def pixmap(self, path: str) -> QPixmap | None:
        """The cached thumbnail, or None after queueing it (most recent request first)."""
        found = self._pixmaps.get(path)
        if found is not None:
            self._pixmaps.move_to_end(path)
            return found
        if path not in self._failed:
            self.request(path)
        return None

    def cached(self, path: str) -> bool:
        """Whether the pixmap is in memory (without queueing it)."""
        return path in self._pixmaps

    def failure(self, path: str) -> str | None:
        return self._failed.get(path)

    def request(self, path: str) -> None:
        if self._closed:
            return
        with self._lock:
            if path in self._pending:
                self._stack.remove(path)  # move it to the top: it is wanted now
            self._stack.append(path)
            self._pending.add(path)
            while len(self._stack) > MAX_PENDING:
                self._pending.discard(self._stack.popleft())
            start = self._draining < self._pool.maxThreadCount()
            if start:
                self._draining += 1
        if start:
            self._pool.start(_DrainStack(self))

    def forget(self, path: str) -> None:
        """Drop what is known about a path (its file changed or went away)."""
        self._pixmaps.pop(path, None)
        self._failed.pop(path, None)

    def clear_memory(self) -> None:
        self._pixmaps.clear()
        self._failed.clear()

    def cached_count(self) -> int:
        return len(self._pixmaps)

    def load_image(self, path: str) -> None:
        """Decode the full image off the GUI thread; answers with image_ready/image_failed."""
        if not self._closed:
            self._pool.start(_DecodeFull(path, self._bridge))

    def shutdown(self) -> None:
        """Drop what is queued and wait for the pool threads. Safe to call twice."""
        self._closed = True
        with self._lock:
            self._stack.clear()
            self._pending.clear()
        self._pool.waitForDone()

    # -- pool side -----------------------------------------------------------------------

    def hold(self, seconds: float = SCROLL_HOLD_S) -> None:
        """Keep the pool threads from starting new work for a moment (while the user scrolls:
        the GUI thread gets the interpreter to itself, and the screen where scrolling stops
        loads first)."""
        self._hold_until = time.monotonic() + seconds

    def _next(self) -> str | None:
        while not self._closed and time.monotonic() < self._hold_until:
            time.sleep(HOLD_POLL_S)
        with self._lock:
            if self._closed or not self._stack:
                self._draining -= 1
                return None
            path = self._stack.pop()
            self._pending.discard(path)
            return path

    def _release_slot(self) -> None:
        """A drain that stopped early gives back its place; the next request starts another."""
        with self._lock:
            self._draining -= 1

    def _make(self, path: str) -> None:
        try:
            jpeg = self._cache.get(Path(path), self._disk_size)
            image = QImage(str(jpeg))
            if image.isNull():
                raise UnreadableImage(f"The thumbnail of {Path(path).name} could not be decoded.")
            fitted = image.size().scaled(self._tile, Qt.AspectRatioMode.KeepAspectRatio)
            if fitted != image.size():
                # sharp pixels when enlarging small images, smooth when shrinking
                enlarging = fitted.width() > image.width()
                mode = FAST if enlarging else SMOOTH
                image = image.scaled(fitted, Qt.AspectRatioMode.IgnoreAspectRatio, mode)
            image = image.convertToFormat(QImage.Format.Format_RGB32)
        except (UnreadableImage, OSError) as exc:
            self._bridge.failed.emit(path, str(exc))
            return
        except Exception:
            log.exception("No thumbnail could be made for %s", path)
            self._bridge.failed.emit(path, f"The thumbnail of {Path(path).name} could not be made.")
            return
        self._bridge.decoded.emit(path, image)

    # -- back on the GUI thread ----------------------------------------------------------

    @Slot(str, QImage)
    def _on_decoded(self, path: str, image: QImage) -> None:
        if self._closed:
            return
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self._ratio)
        self._pixmaps[path] = pixmap
        self._pixmaps.move_to_end(path)
        while len(self._pixmaps) > self._capacity:
            self._pixmaps.popitem(last=False)
        self.thumbnail_ready.emit(path)

    @Slot(str, str)
    def _on_failed(self, path: str, reason: str) -> None:
        if not self._closed:
            self._failed[path] = reason
            self.thumbnail_failed.emit(path, reason)

    @Slot(str, QImage)
    def _on_full_decoded(self, path: str, image: QImage) -> None:
        if not self._closed:
            self.image_ready.emit(path, image)


class _DrainStack(QRunnable):
    """Takes paths off the loader's stack until it is empty."""

    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self._loader = loader

    def run(self) -> None:
        try:
            while (path := self._loader._next()) is not None:
                self._loader._make(path)
        except Exception:  # _make answers for every path; this is the queue itself failing
            log.exception("The thumbnail queue stopped")
            self._loader._release_slot()


class _DecodeFull(QRunnable):
    def __init__(self, path: str, bridge: _Bridge) -> None:
        super().__init__()
        self._path = path
        self._bridge = bridge

    def run(self) -> None:
        try:
            self._decode()
        except Exception:
            log.exception("The full image %s could not be decoded", self._path)
            self._bridge.full_failed.emit(self._path, f"{Path(self._path).name} could not be shown.")

    def _decode(self) -> None:
        reader = QImageReader(self._path)
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and size.width() * size.height() > MAX_VIEW_PIXELS:
            self._bridge.full_failed.emit(self._path, TOO_BIG)
            return
        image = reader.read()
        if image.isNull():
            self._bridge.full_failed.emit(
                self._path, f"{Path(self._path).name} could not be read: {reader.errorString()}"
            )
            return
        self._bridge.full_decoded.emit(self._path, image)
