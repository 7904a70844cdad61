"""`studio gallery search TEXT` and `studio gallery rebuild`, on the gallery's index.

Without --gallery: Studio's gallery folder and index (`StudioPaths`). With --gallery DIR: that
folder, with its index and thumbnails in a hidden `DIR/.studio/` subfolder.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from studio.library.gallery import Gallery
from studio.library.metadata.display import path_text, terminal_text


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("gallery", help="search or rebuild the gallery index")
    commands = p.add_subparsers(title="gallery commands", metavar="ACTION", required=True)
    search = commands.add_parser("search", help="print the paths of images whose prompt matches")
    search.add_argument("text", help="words to find in prompts ('cat' also finds 'cats')")
    search.add_argument("--favorites", action="store_true", help="only favorites")
    _gallery_option(search)
    search.set_defaults(handler=run_search)
    rebuild = commands.add_parser("rebuild", help="rebuild the index from the image files")
    _gallery_option(rebuild)
    rebuild.set_defaults(handler=run_rebuild)


def run_search(args: argparse.Namespace) -> int:
    gallery = _open(args.gallery)
    if gallery is None:
        return 1
    with gallery:
        report = gallery.index.reconcile()
        _print_notes(gallery)
        for path, why in report.skipped.items():
            _note(f"Skipped {path_text(path)}: {why}")
        for row in gallery.index.rows(search=args.text, favorites_only=args.favorites):
            print(terminal_text(path_text(row.file)))
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    gallery = _open(args.gallery)
    if gallery is None:
        return 1
    with gallery:
        _print_notes(gallery)
        if gallery.index_is_temporary:
            _note("studio gallery: the index was not rebuilt, since its file belongs to a newer Studio.")
            return 1

        def progress(done: int, total: int) -> None:
            print(f"Indexed {done} of {total} images", file=sys.stderr)

        report = gallery.index.rebuild(progress)
        for path, why in report.skipped.items():
            _note(f"Skipped {path_text(path)}: {why}")
        print(f"{report.added} images in the index, {len(report.skipped)} skipped.", file=sys.stderr)
    return 0


def _print_notes(gallery: Gallery) -> None:
    for note in gallery.notes:
        _note(f"studio gallery: {note}")


def _note(text: str) -> None:
    print(terminal_text(text), file=sys.stderr)


def _gallery_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gallery",
        type=Path,
        metavar="DIR",
        help="a gallery folder (default: Studio's); its index goes in DIR/.studio/",
    )


def _open(folder: Path | None) -> Gallery | None:
    try:
        if folder is None:
            from studio.config.paths import StudioPaths

            return Gallery.from_paths(StudioPaths.default())
        if not folder.is_dir():
            _note(f"studio gallery: {path_text(folder)} is not a folder.")
            return None
        return Gallery.for_folder(folder)
    except (OSError, sqlite3.Error):
        _note("studio gallery: the gallery index could not be opened or created; check that its folder can be written.")
        return None
