"""`studio generate`: one request, run headless; prints each PNG's path on stdout."""

from __future__ import annotations

import argparse
import errno
import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from studio.commands.image_options import add_image_arguments, image_fields, size_from_picture
from studio.engine.run.request import DEFAULT_MODEL, GenerationRequest, InvalidRequest
from studio.engine.run.schedulers import SCHEDULER_NAMES

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("generate", help="generate images from a prompt, without the window")
    add_request_arguments(p)
    p.add_argument("--server", help="run on a `studio serve` server at this URL (http://HOST:PORT); save here")
    p.add_argument("--token", help="the server's token (or set STUDIO_TOKEN)")
    p.set_defaults(handler=run)


def add_request_arguments(p: Any) -> None:
    """The options that build a request; `studio grid` shares them."""
    p.add_argument("--prompt", required=True, help="what to draw")
    p.add_argument("--negative", default="", help="what to avoid")
    p.add_argument("--seed", type=int, help="seed (random when left out)")
    p.add_argument("--steps", type=int, help="denoising steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale")
    p.add_argument("--size", help="WIDTHxHEIGHT, e.g. 512x512 (default: the model's)")
    p.add_argument("--scheduler", help=f"one of: {', '.join(SCHEDULER_NAMES)}")
    p.add_argument("--model", default=DEFAULT_MODEL, help="model folder or name (default: the built-in demo)")
    p.add_argument("--batch", type=int, default=1, help="images to make, 1-16")
    p.add_argument("--out", type=Path, help="folder for the PNGs (default: the gallery)")
    p.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load the --model .ckpt/.pt/.bin file although pickle files can run code "
        "(read as weights only; converting it to .safetensors is safer)",
    )
    add_image_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Refuse every bad input in one line before anything loads, then run and save."""
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.errors import ModelError

    paths = StudioPaths.default()
    if getattr(args, "server", None):
        from studio.commands.remote_generate import run_remote

        return run_remote(args, paths)
    registry = ModelRegistry(paths)
    try:
        entry = registry.resolve(args.model)
    except ModelError as error:
        return _bad(str(error))
    try:
        request = build_request(args, entry.defaults)
    except ValueError as error:
        return _bad(str(error))
    problems = request.problems()
    if problems:
        return _bad(" ".join(problems))
    if request.mode != "text":
        from studio.engine.run.start_image import prepare

        try:
            prepare(request)  # the pictures are read now, so a bad one costs no model load
        except InvalidRequest as error:
            return _bad(str(error))
    where = out_and_device(args, paths)
    if isinstance(where, str):
        return _bad(where)
    out, device = where
    consent = registry.pickle_consent  # files the person allowed in the app
    if args.allow_pickle and entry.path.is_file() and not consent.allows(entry.path):
        from studio.engine.catalogue.checkpoints import PickleConsent

        consent = PickleConsent()  # for this run only: the user named this file on the command line
        consent.allow(entry.path)
    problem = model_problem(entry, consent)
    if problem:
        return _failed(problem)
    if entry.bundled:
        print(
            f"studio generate: using the built-in demo model ({entry.description or entry.name}) "
            f"For real images, put a diffusers model folder into {paths.models_dir} or pass --model PATH.",
            file=sys.stderr,
        )
    return _generate(request.replace(model=entry.id), out, args.out is None, device, paths, consent)


def build_request(args: argparse.Namespace, defaults: dict[str, Any]) -> GenerationRequest:
    base = GenerationRequest(prompt="")
    width, height = defaults.get("width", base.width), defaults.get("height", base.height)
    pictured = image_fields(args)
    if args.size is not None:
        match = _SIZE.match(args.size)
        if not match:
            raise ValueError(f"--size must look like 512x512, not {_shown(args.size)}.")
        width, height = int(match[1]), int(match[2])
    elif pictured.get("start_image") and not pictured.get("masked_area_only"):
        width, height = _picture_size(pictured["start_image"], pictured.get("outpaint", base.outpaint))
    return GenerationRequest(
        prompt=args.prompt,
        negative_prompt=args.negative,
        seed=args.seed,
        steps=args.steps if args.steps is not None else defaults.get("steps", base.steps),
        guidance=args.guidance if args.guidance is not None else defaults.get("guidance", base.guidance),
        width=width,
        height=height,
        scheduler=args.scheduler or defaults.get("scheduler", base.scheduler),
        model=args.model,
        batch=args.batch,
        **pictured,
    )


def _picture_size(path: str, margins: Any) -> tuple[int, int]:
    """The size a start picture runs at when --size is left out: its own, as models take it."""
    from studio.engine.run.start_image import open_picture

    if not (isinstance(margins, tuple) and len(margins) == 4 and all(isinstance(m, int) for m in margins)):
        margins = (0, 0, 0, 0)  # the request's own check names the bad margins
    try:
        picture = open_picture(path, "start_image")
    except InvalidRequest as error:
        raise ValueError(str(error)) from None
    width, height, notice = size_from_picture(picture.width, picture.height, margins)
    if notice:
        _note(notice)
    return width, height


def _note(text: str) -> None:
    print(f"studio generate: note: {text}", file=sys.stderr)


def out_and_device(args: argparse.Namespace, paths: Any) -> tuple[Path, str | None] | str:
    """The folder images go to (--out, else the gallery) and the device (--device, else the
    best), or why either cannot be used; checked before anything loads."""
    out = args.out if args.out is not None else paths.gallery_dir
    unusable = output_folder_problem(out, "--out" if args.out is not None else "The gallery folder")
    if unusable:
        return unusable
    if args.device is None:
        return out, None
    from studio.engine.errors import DeviceError
    from studio.engine.loading.device import check_device

    try:
        return out, check_device(args.device)
    except DeviceError as error:
        return str(error)


def output_folder_problem(out: Path, label: str) -> str:
    """Why images cannot be saved into `out` (which need not exist yet), or "" when they can.

    Checked before the run, so that no image is made only to be lost; nothing is created.
    """
    out = Path(os.path.abspath(out.expanduser()))
    existing = out
    while True:
        try:
            mode = existing.stat().st_mode
        except (FileNotFoundError, NotADirectoryError):
            existing = existing.parent  # made when the first image is saved
            continue
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:
                return f"{label} {out} cannot be made: the name is too long."
            return f"{label} {out} cannot be used: {error.strerror or 'it cannot be read'}."
        break
    if not stat.S_ISDIR(mode):
        if existing == out:
            return f"{label} {out} is a file, not a folder."
        return f"{label} {out} cannot be made: {existing} is a file, not a folder."
    if _on_read_only_disk(existing):
        return f"{label} {out} cannot be written: {existing} is on a read-only disk."
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{label} {out} cannot be written: Studio has no permission to write in {existing}."
    return ""


def _on_read_only_disk(folder: Path) -> bool:
    if not hasattr(os, "statvfs"):  # Windows: os.access below covers read-only media
        return False
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def model_problem(entry: Any, consent: Any) -> str:
    """Why the model cannot load, from its headers and JSON only (torch is not loaded yet)."""
    from studio.engine.catalogue.checkpoints import pickle_refusal
    from studio.engine.errors import ModelError
    from studio.engine.loading.pipelines import check_model_folder

    path: Path = entry.path
    if path.is_file():
        if entry.problem:
            return entry.problem if path.name in entry.problem else f"{path.name}: {entry.problem}"
        if entry.is_pickle and not consent.allows(path):
            return f"{pickle_refusal(path)} {_PICKLE_HINT}"
        return ""
    try:
        check_model_folder(path)
    except ModelError as error:
        return str(error)
    return ""


_PICKLE_HINT = "From the command line, pass --allow-pickle to load it once."


def addon_finder(paths: Any, command: str = "studio generate") -> Any:
    """The LoRA and embedding library the window uses: the models folder's loras/ and
    embeddings/ and the folders added in Settings, so a name `studio loras` lists runs here too."""
    from studio.config.settings import load_settings
    from studio.engine.loras.finder import LibraryFinder
    from studio.engine.loras.library import AddOnLibrary

    loaded = load_settings(paths.settings_file)
    for note in loaded.notes:
        print(f"{command}: note: {note}", file=sys.stderr)
    return LibraryFinder(AddOnLibrary.for_studio(paths, loaded.settings))


def _generate(
    request: GenerationRequest, out: Path, out_is_gallery: bool, device: str | None, paths: Any, consent: Any,
    engine: Any = None,
) -> int:
    """Run on `engine` (a RemoteEngine), else on a local Engine for `device`, and save."""
    from tqdm import tqdm

    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.errors import PickleNeedsConsent, Unexpected
    from studio.engine.run.engine import Engine
    from studio.engine.run.events import Event, Failed, Finished, Step

    bar: Any = None

    def on_event(event: Event) -> None:
        nonlocal bar
        match event:
            case Step(index=index, total=total):
                # Made at the first step, so that a run failing while its model loads prints
                # nothing but its message.
                if bar is None:
                    bar = tqdm(total=total, unit="step", file=sys.stderr, desc="Generating", leave=False)
                bar.update(index - bar.n)  # a slow network may skip steps: the count still adds up
            case _:
                pass

    from studio.engine.previews.previewer import PreviewSettings

    engine = engine or Engine(
        ModelRegistry(paths),
        device=device,
        previews=PreviewSettings(cache_dir=paths.cache_dir),
        pickle_consent=consent,
        addons=addon_finder(paths),
    )
    outcome = engine.generate(request, on_event)
    if bar is not None:
        bar.close()
    if isinstance(outcome, Failed):
        hint = f" {_PICKLE_HINT}" if isinstance(outcome.cause, PickleNeedsConsent) else ""
        if isinstance(outcome.cause, Unexpected):
            if os.environ.get("STUDIO_DEBUG"):
                print(outcome.details, file=sys.stderr)
            else:
                hint = " Run it again with STUDIO_DEBUG=1 to see the details."
        return _failed(f"{outcome.message}{hint}")
    if not isinstance(outcome, Finished):
        print("studio generate: cancelled", file=sys.stderr)
        return 1
    for notice in outcome.notices:
        _note(notice)
    return _save_all(outcome, out, out_is_gallery, paths)


def _save_all(outcome: Any, out: Path, dated: bool, paths: Any) -> int:
    """Save every image, printing each path; when `out` fails (a full disk), the rest go to a
    fallback folder instead of being thrown away, and the exit code is 1."""
    from studio.config.atomic import SaveError
    from studio.library.film import film_chunk

    folders = [(out, dated)] + [(folder, False) for folder in fallback_folders(paths)]
    current = 0
    first_error: SaveError | None = None
    used: list[Path] = []
    per_image = zip(outcome.images, outcome.request.per_image(), strict=True)
    for number, (image, image_request) in enumerate(per_image):
        # The film follows the first image of a batch: its previews are the ones decoded.
        chunks = film_chunk(outcome.film) if number == 0 and outcome.film else None
        while True:
            folder, in_dated_folders = folders[current]
            try:
                path = _save(image, image_request, folder, dated=in_dated_folders, chunks=chunks,
                             server=getattr(outcome, "server", ""))
                break
            except SaveError as error:
                first_error = first_error or error
                current += 1
                if current == len(folders):
                    return _failed(f"{first_error} No other folder could take the images, so "
                                   f"{len(outcome.images) - number} of them could not be saved.")
        if current and folder not in used:
            used.append(folder)
        print_path(path)
    if first_error is not None:
        where = " and ".join(str(f) for f in used)
        return _failed(f"{first_error} The images were saved to {where} instead.")
    return 0


def fallback_folders(paths: Any) -> list[Path]:
    """Where images go when the folder asked for cannot take them: the user's cache, then temp."""
    import tempfile

    return [paths.cache_dir / "unsaved images", Path(tempfile.gettempdir()) / "studio-unsaved-images"]


def _save(image: Any, request: GenerationRequest, out: Path, *, dated: bool, chunks: Any, server: str = "") -> Path:
    """Into the gallery's dated folders, or straight into the folder the user named."""
    from datetime import datetime

    from studio.config.atomic import SaveError, write_atomic
    from studio.library.store import encode_png, file_name, save_image

    if dated:
        return save_image(image, request, out, extra_chunks=chunks, server=server)
    moment = datetime.now().astimezone()
    try:
        data = encode_png(image, request, created=moment.timestamp(), extra_chunks=chunks, server=server)
    except (OSError, ValueError) as exc:
        raise SaveError(f"Could not encode the image as PNG ({type(exc).__name__}).", image=image) from exc
    return write_atomic(out / file_name(request, moment), data, replace=False)


def print_path(path: Path) -> None:
    """One saved path on stdout, byte for byte: a folder name need not be valid UTF-8."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        print(path, flush=True)
        return
    sys.stdout.flush()
    buffer.write(os.fsencode(path) + b"\n")
    buffer.flush()


def _shown(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 1] + "…")


def _bad(message: str) -> int:
    """A command line that cannot run: one line, exit code 2."""
    print(f"studio generate: error: {message}", file=sys.stderr)
    return 2


def _failed(message: str) -> int:
    """A run that could not be done or finished: one line, exit code 1."""
    print(f"studio generate: {message}", file=sys.stderr)
    return 1
