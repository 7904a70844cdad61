"""`studio film IMAGE.png OUT.webp|OUT.gif`: write the denoising film kept in a gallery image."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "film", help="write the denoising film of a gallery image as animated WebP or GIF"
    )
    p.add_argument("image", type=Path, help="a PNG that Studio made")
    p.add_argument("out", type=Path, help="where to write the film: a .webp or .gif file")
    p.add_argument("--frame-ms", type=int, default=80, help="milliseconds per step (default 80)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from studio.config.atomic import SaveError
    from studio.library.film import EXPORT_FORMATS, FilmError, export_film, read_film

    if args.out.suffix.lower() not in EXPORT_FORMATS:
        return _fail(f"the film is written as .webp or .gif, not {args.out.name!r}.")
    if not 10 <= args.frame_ms <= 10_000:
        return _fail("--frame-ms must be between 10 and 10000.")
    try:
        frames = read_film(args.image)
        path = export_film(frames, args.out, frame_ms=args.frame_ms)
    except (FilmError, SaveError) as error:
        return _fail(str(error))
    from studio.library.metadata.display import path_text, terminal_text

    print(terminal_text(f"{path_text(path)} ({len(frames)} steps)"), flush=True)
    return 0


def _fail(message: str) -> int:
    from studio.library.metadata.display import terminal_text

    print(terminal_text(f"studio film: error: {message}"), file=sys.stderr)
    return 1
