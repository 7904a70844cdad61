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
from studio.library.index import GalleryIndex, GalleryRow, IndexTooNew
from studio.library.metadata import ImageMetadata
from studio.library.store import save_image
from studio.library.thumbnails import ThumbnailCache

PRIVATE_DIR = ".studio"


class Gallery:
    """The images of one folder. `notes` says, in words, what a person should know about the
    index (moved aside when damaged, or left alone because a newer Studio wrote it).

    An index from a newer Studio is never touched: the gallery then works from an index in
    memory, filled from the files by `index.reconcile()` as usual, and says so in `notes`.
    """

    def __init__(self, folder: Path, index_file: Path, thumbnail_dir: Path) -> None:
        self.folder = Path(folder)
        try:
            self.index = GalleryIndex(index_file, self.folder)
        except IndexTooNew as refused:
            self.index = GalleryIndex.in_memory(self.folder)
            self.index.notes.append(
                f"{refused} Until then the gallery is read from the image files into a temporary "
                "index, and nothing is written to that file."
            )
        self.thumbnails = ThumbnailCache(thumbnail_dir)

    @property
    def notes(self) -> list[str]:
        return self.index.notes

    @property
    def index_is_temporary(self) -> bool:
        """True when the index lives in memory only (its file was left for a newer Studio)."""
        return self.index.db_path is None

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

    def add(self, path: Path, meta: ImageMetadata | None = None) -> GalleryRow:
        """Show a file that was just written. With `meta`, what the writer knows it says, the
        file is not opened (only its size and time are read); without, it is read.
        UnreadableImage if it is refused."""
        return self.index.add(path, meta)

    def close(self) -> None:
        self.index.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
