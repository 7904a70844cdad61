"""`studio grid`: an X/Y/Z comparison grid, headless; prints each cell's and each grid's path."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from studio.commands import generate


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("grid", help="an X/Y/Z grid of images that differ along up to three axes")
    for name in ("x", "y", "z"):
        p.add_argument(f"--{name}", metavar="AXIS=VALUES",
                       help=f"the {name.upper()} axis, e.g. guidance=1,3,5 or steps=10-30 (+10) "
                            "or prompt=cat,dog (search, replacements) or lora:NAME=0,0.5,1 (that LoRA's weight)")
    generate.add_request_arguments(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.errors import ModelError
    from studio.engine.grid.axes import AxisError, parse_axis
    from studio.engine.grid.cells import plan_grid
    from studio.engine.run.addons import AddOnProblem

    texts = [text for text in (args.x, args.y, args.z) if text]
    if not texts:
        return _bad("Name at least one axis with --x (and --y, --z), e.g. --x \"guidance=1,3,5\".")
    paths = StudioPaths.default()
    registry = ModelRegistry(paths)
    try:
        entry = registry.resolve(args.model)
        base = generate.build_request(args, entry.defaults)
        axes = [parse_axis(text) for text in texts]
        plan = plan_grid(base.replace(model=entry.id), axes)
    except (ModelError, AxisError, ValueError) as error:
        return _bad(str(error))
    problems = sorted({p for cell in plan.cells for p in cell.request.problems()})
    if problems:
        return _bad(" ".join(problems))
    where = generate.out_and_device(args, paths)
    if isinstance(where, str):
        return _bad(where)
    out, device = where
    problem = generate.model_problem(entry, registry.pickle_consent)
    if problem:
        return _failed(problem)
    finder = generate.addon_finder(paths, "studio grid")
    for name in dict.fromkeys(axis.target for axis in plan.axes if axis.kind == "lora" and axis.target):
        try:
            found = finder.find("lora", name)
        except AddOnProblem as unusable:
            return _bad(str(unusable))
        if found is None:  # said now, not after the model has loaded
            return _bad(f"There is no LoRA named “{name}” in {finder.where('lora')}; the axis "
                        f"lora:{name} needs its file there.")
    return _run_cells(plan, out, args.out is None, device, paths, registry, finder)


def _run_cells(plan: Any, out: Path, dated: bool, device: str | None, paths: Any, registry: Any,
               finder: Any) -> int:
    from studio.config.atomic import SaveError
    from studio.engine.previews.previewer import PreviewSettings
    from studio.engine.run.engine import Engine
    from studio.engine.run.events import Failed, Finished
    from studio.library.grid_image import compose_grid, grid_chunk
    from studio.library.store import save_image

    engine = Engine(registry, device=device, previews=PreviewSettings(cache_dir=paths.cache_dir),
                    pickle_consent=registry.pickle_consent, addons=finder)
    folder = out
    images: dict[tuple[int, int, int], Any] = {}
    files: dict[int, list[str]] = {}
    for number, cell in enumerate(plan.cells, 1):
        print(f"studio grid: cell {number} of {len(plan.cells)}", file=sys.stderr)
        outcome = engine.generate(cell.request, lambda _event: None)
        if isinstance(outcome, Failed):
            return _failed(f"Cell {number} failed: {outcome.message}")
        if not isinstance(outcome, Finished):
            return _failed("cancelled")
        try:
            # the request as run: it names the LoRA files and hashes the cell used
            path = save_image(outcome.images[0], outcome.request, folder, dated=dated)
        except SaveError as error:
            return _failed(str(error))
        images[(cell.x, cell.y, cell.z)] = outcome.images[0]
        files.setdefault(cell.z, []).append(path.name)
        generate.print_path(path)
    base = plan.cells[0].request
    for z in range(plan.size(2)):
        rows = [[images.get((x, y, z)) for x in range(plan.size(0))] for y in range(plan.size(1))]
        title = plan.labels(2)[z] if len(plan.axes) > 2 else ""
        picture = compose_grid(rows, plan.labels(0), plan.labels(1) if len(plan.axes) > 1 else [""] * plan.size(1),
                               title=title)
        try:
            path = save_image(picture, base, folder, dated=dated,
                              extra_chunks=grid_chunk(plan.description(), files.get(z, [])))
        except SaveError as error:
            return _failed(str(error))
        generate.print_path(path)
    return 0


def _bad(message: str) -> int:
    print(f"studio grid: error: {message}", file=sys.stderr)
    return 2


def _failed(message: str) -> int:
    print(f"studio grid: {message}", file=sys.stderr)
    return 1
