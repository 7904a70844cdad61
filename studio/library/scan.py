"""Walking the gallery folder: which image files are there, and how they last changed."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from studio.config.atomic import TEMP_PREFIX

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})


@dataclass(frozen=True)
class FileStamp:
    """When and how big: a file whose stamp is unchanged need not be read again."""

    mtime_ns: int
    size: int

    @classmethod
    def of(cls, path: Path) -> FileStamp:
        stat = path.stat()
        return cls(stat.st_mtime_ns, stat.st_size)


@dataclass
class FolderScan:
    """What a walk of the gallery found: image files by relative path, and the folders
    (relative, '' for the top) holding temporaries that killed writers may have left."""

    images: dict[str, FileStamp] = field(default_factory=dict)
    temporary_dirs: set[str] = field(default_factory=set)


def is_temporary(name: str) -> bool:
    """A file the atomic writer is still filling, or one a killed writer left behind."""
    return name.startswith(TEMP_PREFIX)


def scan_gallery(folder: Path) -> dict[str, FileStamp]:
    """Every image file under `folder`, by its '/'-separated path relative to `folder`."""
    return scan_folder(folder).images


def scan_folder(folder: Path) -> FolderScan:
    """One walk of `folder`: its image files and where temporaries lie. Hidden folders and files
    (temporaries, the `.studio` folder) are never images; links to folders are not followed,
    so a walk visits each folder once."""
    found = FolderScan()
    if not folder.is_dir():
        return found
    stack = [""]
    while stack:
        prefix = stack.pop()
        current = os.path.join(folder, prefix) if prefix else str(folder)
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue  # an unreadable subfolder is skipped, not fatal
        for entry in entries:
            if is_temporary(entry.name):
                found.temporary_dirs.add(prefix)
                continue
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(f"{prefix}{entry.name}/")
                elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                    stat = entry.stat()
                    found.images[prefix + entry.name] = FileStamp(stat.st_mtime_ns, stat.st_size)
            except OSError:
                continue
    return found
