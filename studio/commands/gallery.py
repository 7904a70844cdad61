"""`studio gallery search TEXT` and `studio gallery rebuild`, on the gallery's index.

Without --gallery: Studio's gallery folder and index (`StudioPaths`). With --gallery DIR: that
folder, with its index and thumbnails in a hidden `DIR/.studio/` subfolder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.library.gallery import Gallery
from studio.library.index import IndexTooNew


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
        gallery.index.reconcile()
        for row in gallery.index.rows(search=args.text, favorites_only=args.favorites):
            print(row.path)
    return 0


def run_rebuild(args: argparse.Namespace) -> int:
    gallery = _open(args.gallery)
    if gallery is None:
        return 1
    with gallery:

        def progress(done: int, total: int) -> None:
            print(f"Indexed {done} of {total} images", file=sys.stderr)

        report = gallery.index.rebuild(progress)
        for path, why in report.skipped.items():
            print(f"Skipped {path}: {why}", file=sys.stderr)
        print(f"{report.added} images in the index, {len(report.skipped)} skipped.", file=sys.stderr)
    return 0


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
            print(f"studio gallery: {folder} is not a folder.", file=sys.stderr)
            return None
        return Gallery.for_folder(folder)
    except IndexTooNew as exc:
        print(f"studio gallery: {exc}", file=sys.stderr)
        return None
