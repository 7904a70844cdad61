"""The gallery as one object: its folder, its index and its thumbnail cache.

Where things live: with Studio's own paths, the index is `StudioPaths.index_file` and the
thumbnails `StudioPaths.thumbnail_dir`. For any other folder (`for_folder`), both live in a
hidden `.studio/` subfolder of it, so that folder carries its own index wherever it goes.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from studio.config.paths import StudioPaths
from studio.engine.run.request import GenerationRequest
from studio.library.index import GalleryIndex, GalleryRow
from studio.library.store import save_image
from studio.library.thumbnails import ThumbnailCache

PRIVATE_DIR = ".studio"


class Gallery:
    def __init__(self, folder: Path, index_file: Path, thumbnail_dir: Path) -> None:
        self.folder = Path(folder)
        self.index = GalleryIndex(index_file, self.folder)
        self.thumbnails = ThumbnailCache(thumbnail_dir)

    @classmethod
    def from_paths(cls, paths: StudioPaths) -> Gallery:
        return cls(paths.gallery_dir, paths.index_file, paths.thumbnail_dir)

    @classmethod
    def for_folder(cls, folder: Path) -> Gallery:
        private = Path(folder) / PRIVATE_DIR
        return cls(folder, private / "gallery.sqlite3", private / "thumbnails")

    def save(
        self,
        image: Image.Image,
        request: GenerationRequest,
        *,
        extra_chunks: dict[bytes | str, bytes] | None = None,
    ) -> GalleryRow:
        """Save the image (atomically, metadata inside) and index it; SaveError on failure."""
        path = save_image(image, request, self.folder, extra_chunks=extra_chunks)
        return self.index.add(path)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
