"""Walking the gallery folder: which image files are there, and how they last changed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

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


def scan_gallery(folder: Path) -> dict[str, FileStamp]:
    """Every image file under `folder`, by its '/'-separated path relative to `folder`,
    skipping hidden folders and files (temporary files, the `.studio` folder)."""
    found: dict[str, FileStamp] = {}
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
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(f"{prefix}{entry.name}/")
                elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                    stat = entry.stat()
                    found[prefix + entry.name] = FileStamp(stat.st_mtime_ns, stat.st_size)
            except OSError:
                continue
    return found
