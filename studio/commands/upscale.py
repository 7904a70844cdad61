"""`studio upscale IN.png --scale 2`: one image enlarged headless; prints the PNG's path on stdout."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.engine.upscale.catalogue import LANCZOS


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("upscale", help="enlarge an image with Lanczos or an upscale model, without the window")
    p.add_argument("image", type=Path, help="the image to enlarge")
    p.add_argument("--scale", type=float, required=True, help="how many times larger, 1-8 (e.g. 2 or 1.5)")
    p.add_argument(
        "--upscaler", default=LANCZOS,
        help=f"{LANCZOS} (built in) or a model file's name from the models folder's upscalers/ (default: {LANCZOS})",
    )
    p.add_argument("--tile", type=int, help="most input pixels a tile has on a side; 0 for one tile (default: by size)")
    p.add_argument("--out", type=Path, help="folder for the PNG (default: the gallery)")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load an upscaler .pth/.pt/.ckpt/.bin file although pickle files can run code "
        "(read as weights only; converting it to .safetensors is safer)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Refuse every bad input in one line before anything loads, then upscale and save."""
    from studio.commands.generate import out_and_device
    from studio.config.paths import StudioPaths
    from studio.engine.errors import ModelError
    from studio.engine.run.request import InvalidRequest
    from studio.engine.upscale.catalogue import resolve_upscaler
    from studio.engine.upscale.limits import check_output, check_scale, check_tile

    paths = StudioPaths.default()
    try:
        check_scale(args.scale)
        check_tile(args.tile)
    except InvalidRequest as error:
        return _bad(str(error))
    image_or_problem = _open(args.image)
    if isinstance(image_or_problem, str):
        return _bad(image_or_problem)
    image = image_or_problem
    try:
        check_output(image.width, image.height, args.scale)
        upscaler = resolve_upscaler(args.upscaler, paths.models_dir)
    except (InvalidRequest, ModelError) as error:
        return _bad(str(error))
    where = out_and_device(args, paths)
    if isinstance(where, str):
        return _bad(where)
    out, device = where
    consent = _consent(paths, upscaler.path, allow=args.allow_pickle)
    result = _upscale(image, args, paths.models_dir, device, consent)
    if isinstance(result, int):
        return result
    return _save(result, args.image, args.scale, upscaler.name, out, dated=args.out is None)


def _open(path: Path) -> Any:
    """The image, loaded whole (a cut-short file is noticed here), or why it cannot be read."""
    from PIL import Image

    from studio.library.metadata.display import path_text
    from studio.library.pillow import open_image
    from studio.library.pngchunks import UnreadableImage

    try:
        image = open_image(path)
        try:
            image.load()
        except BaseException:
            image.close()
            raise
        return image
    except UnreadableImage as error:
        return str(error)
    except FileNotFoundError:
        return f"{path_text(path)} does not exist."
    except IsADirectoryError:
        return f"{path_text(path)} is a folder, not an image."
    except Image.UnidentifiedImageError:
        return f"{path_text(path)} is not an image Studio can read (PNG, JPEG, WebP and the like)."
    except (OSError, ValueError, SyntaxError):  # truncated or damaged data; SyntaxError is Pillow's for bad headers
        return f"{path_text(path)} cannot be read: the file is damaged or cut short."


def _consent(paths: Any, file: Path | None, *, allow: bool) -> Any:
    """The pickle files the person allowed in the app, plus `file` for this run with --allow-pickle."""
    from studio.engine.catalogue.checkpoints import PickleConsent
    from studio.engine.catalogue.registry import ModelRegistry

    consent = ModelRegistry(paths).pickle_consent
    if allow and file is not None and not consent.allows(file):
        consent = PickleConsent()  # for this run only: the user asked on the command line
        consent.allow(file)
    return consent


def _upscale(image: Any, args: argparse.Namespace, models_dir: Path, device: str | None, consent: Any) -> Any:
    """The enlarged image, or the exit code of an upscale that could not be done."""
    from tqdm import tqdm

    from studio.engine.catalogue.checkpoints import PickleRefused
    from studio.engine.errors import DeviceError, ModelError
    from studio.engine.run.request import InvalidRequest
    from studio.engine.upscale.tiled import UpscaleCancelled
    from studio.engine.upscale.upscale import UpscaleOutOfMemory, upscale

    bar: Any = None

    def on_progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:  # made at the first tile, so that a model that fails to load prints only its message
            bar = tqdm(total=total, unit="tile", file=sys.stderr, desc="Upscaling", leave=False)
        bar.update(done - bar.n)

    try:
        return upscale(
            image, args.scale, args.upscaler, models_dir=models_dir, device=device, tile=args.tile,
            consent=consent, on_progress=on_progress,
        )
    except PickleRefused as error:
        return _failed(f"{error} {_PICKLE_HINT}")
    except (ModelError, InvalidRequest, DeviceError, UpscaleOutOfMemory) as error:
        return _failed(str(error))
    except UpscaleCancelled:
        print("studio upscale: cancelled", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()


_PICKLE_HINT = "From the command line, pass --allow-pickle to load it once."


def _save(image: Any, source: Path, scale: float, upscaler: str, out: Path, *, dated: bool) -> int:
    """Write the PNG atomically, never over an existing file, with the source's metadata kept
    and the upscale said; print its path."""
    from studio.commands.generate import print_path
    from studio.config.atomic import SaveError
    from studio.library.upscaled import save_upscaled

    try:
        path = save_upscaled(image, source, scale, upscaler, out, dated=dated)
    except SaveError as error:
        return _failed(str(error))
    print_path(path)
    return 0


def _bad(message: str) -> int:
    """A command line that cannot run: one line, exit code 2."""
    print(f"studio upscale: error: {message}", file=sys.stderr)
    return 2


def _failed(message: str) -> int:
    """An upscale that could not be done: one line, exit code 1."""
    print(f"studio upscale: {message}", file=sys.stderr)
    return 1
