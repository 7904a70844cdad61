"""How far an image may be upscaled: a scale of 1 to 8 and an output within 16384 pixels a
side, checked before any model loads so that a request that cannot finish never starts."""

from __future__ import annotations

import math

from studio.config.shown import shown
from studio.engine.run.request import FieldProblem, InvalidRequest

SCALE_RANGE = (1.0, 8.0)
MAX_SIDE = 16384  # the most pixels a side Studio writes; also Pillow's budget in studio.library
TILE_RANGE = (32, 4096)  # an explicit tile size, in input pixels; 0 means "one tile"


def output_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """The exact size of `width` x `height` enlarged by `scale`, at least one pixel a side."""
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_scale(scale: float) -> None:
    low, high = SCALE_RANGE
    if not isinstance(scale, (int, float)) or not math.isfinite(scale) or not low <= scale <= high:
        given = f"{scale:g}" if isinstance(scale, (int, float)) else shown(scale)
        raise InvalidRequest([FieldProblem("scale", f"The scale must be from {low:g} to {high:g}, not {given}.")])


def check_tile(tile: int | None) -> None:
    low, high = TILE_RANGE
    if tile is not None and tile != 0 and not low <= tile <= high:
        raise InvalidRequest([FieldProblem(
            "tile", f"The tile size must be from {low} to {high} pixels (or 0 for one tile), not {tile}."
        )])


def check_output(width: int, height: int, scale: float, *, stage: str = "") -> None:
    """InvalidRequest when `width` x `height` at `scale` is over MAX_SIDE on a side; `stage`
    says which step would make it (a model's native scale before the final resize)."""
    out_w, out_h = output_size(width, height, scale)
    if max(out_w, out_h) <= MAX_SIDE:
        return
    where = f" {stage}" if stage else ""
    raise InvalidRequest([FieldProblem(
        "scale",
        f"A {width}x{height} image at {scale:g}x would be {out_w}x{out_h} pixels{where}, more than the "
        f"{MAX_SIDE}x{MAX_SIDE} Studio makes. Choose a smaller scale or a smaller image.",
    )])
