"""The `studio` command: opens the app, or runs a subcommand headless on the same engine."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from studio import __version__
    from studio.commands import doctor, film, gallery, generate, grid, info, loras, serve, upscale

    parser = _Parser(prog="studio", description="Text-to-image latent diffusion, with live previews.")
    parser.add_argument("--version", action="version", version=f"Studio {__version__}")
    parser.add_argument("--screenshot", metavar="OUT.png", help="generate one image, save a PNG of the window, exit")
    parser.add_argument("--prompt", help="prompt for --screenshot")
    parser.add_argument("--seed", type=int, help="seed for --screenshot")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for module in (generate, grid, info, gallery, film, upscale, loras, serve, doctor):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from studio.library.pillow import configure_pillow

    configure_pillow()  # Pillow's process-wide limits, once, before any image is opened
    args = build_parser().parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is not None:
        return _run_command(handler, args)
    from studio import app

    return app.main(args)


def _run_command(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand; what it did not foresee is still one line, never a traceback."""
    import os

    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("STUDIO_DEBUG"):
            raise
        print(
            f"studio: stopped on an unexpected error ({type(error).__name__}); this is a bug in "
            "Studio. Run it again with STUDIO_DEBUG=1 to see the details.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
