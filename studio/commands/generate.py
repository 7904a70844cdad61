"""`studio generate`: one request, run headless; prints each PNG's path on stdout."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from studio.engine.run.request import DEFAULT_MODEL, GenerationRequest
from studio.engine.run.schedulers import SCHEDULER_NAMES

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("generate", help="generate images from a prompt, without the window")
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
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.errors import ModelError

    paths = StudioPaths.default()
    registry = ModelRegistry(paths)
    try:
        entry = registry.resolve(args.model)
    except ModelError as error:
        return _bad(str(error))
    try:
        request = _request(args, entry.defaults)
    except ValueError as error:
        return _bad(str(error))
    problems = request.problems()
    if problems:
        return _bad(" ".join(problems))
    if entry.bundled:
        print(
            f"studio generate: using the built-in demo model ({entry.description or entry.name}) "
            f"For real images, put a diffusers model folder into {paths.models_dir} or pass --model PATH.",
            file=sys.stderr,
        )
    consent = registry.pickle_consent  # files the person allowed in the app
    if args.allow_pickle and not consent.allows(entry.path):
        from studio.engine.catalogue.checkpoints import PickleConsent

        consent = PickleConsent()  # for this run only: the user named this file on the command line
        consent.allow(entry.path)
    out = args.out or paths.gallery_dir
    return _generate(request.replace(model=entry.id), out, args.out is None, args.device, paths, consent)


def _request(args: argparse.Namespace, defaults: dict[str, Any]) -> GenerationRequest:
    base = GenerationRequest(prompt="")
    width, height = defaults.get("width", base.width), defaults.get("height", base.height)
    if args.size is not None:
        match = _SIZE.match(args.size)
        if not match:
            raise ValueError(f"--size must look like 512x512, not {args.size!r}.")
        width, height = int(match[1]), int(match[2])
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
    )


def _generate(
    request: GenerationRequest, out: Path, out_is_gallery: bool, device: str | None, paths: Any, consent: Any
) -> int:
    from tqdm import tqdm

    from studio.config.atomic import SaveError
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine
    from studio.engine.run.events import Event, Failed, Finished, Started, Step

    bar: Any = None

    def on_event(event: Event) -> None:
        nonlocal bar
        match event:
            case Started(total=total):
                bar = tqdm(total=total, unit="step", file=sys.stderr, desc="Generating", leave=False)
            case Step():
                bar.update(1)
            case _:
                if bar is not None:
                    bar.close()

    from studio.engine.previews.previewer import PreviewSettings
    from studio.library.film import film_chunk

    engine = Engine(
        ModelRegistry(paths),
        device=device,
        previews=PreviewSettings(cache_dir=paths.cache_dir),
        pickle_consent=consent,
    )
    outcome = engine.generate(request, on_event)
    if isinstance(outcome, Failed):
        print(f"studio generate: {outcome.message}", file=sys.stderr)
        if "PickleRefused" in outcome.details:
            print("studio generate: to load this file anyway, pass --allow-pickle.", file=sys.stderr)
        return 1
    if not isinstance(outcome, Finished):
        print("studio generate: cancelled", file=sys.stderr)
        return 1
    per_image = zip(outcome.images, outcome.request.per_image(), strict=True)
    for number, (image, image_request) in enumerate(per_image):
        # The film follows the first image of a batch: its previews are the ones decoded.
        chunks = film_chunk(outcome.film) if number == 0 and outcome.film else None
        try:
            path = _save(image, image_request, out, dated=out_is_gallery, chunks=chunks)
        except SaveError as error:
            print(f"studio generate: {error}", file=sys.stderr)
            return 1
        print(path, flush=True)
    return 0


def _save(image: Any, request: GenerationRequest, out: Path, *, dated: bool, chunks: Any) -> Path:
    """Into the gallery's dated folders, or straight into the folder the user named."""
    from datetime import datetime

    from studio.config.atomic import write_atomic
    from studio.library.store import encode_png, file_name, save_image

    if dated:
        return save_image(image, request, out, extra_chunks=chunks)
    moment = datetime.now().astimezone()
    data = encode_png(image, request, created=moment.timestamp(), extra_chunks=chunks)
    return write_atomic(out / file_name(request, moment), data, replace=False)


def _bad(message: str) -> int:
    print(f"studio generate: error: {message}", file=sys.stderr)
    return 2
