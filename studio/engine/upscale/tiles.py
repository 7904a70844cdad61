"""Where the tiles of an image go, and how much each counts where tiles overlap.

A side longer than the tile size is split into the fewest tiles of at most that size, all of
one length and spread evenly, so that neighbours overlap by about `OVERLAP` pixels and no tile
is a thin sliver. Across an overlap the weights of the two tiles ramp linearly, one up and one
down, so a seam blends from one tile into the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AUTO_TILE = 512  # input pixels a side: a 4x ESRGAN tile then needs about 2 GB of activations
OVERLAP = 32  # input pixels shared by neighbours: more than an ESRGAN sees around a pixel, so seams match


@dataclass(frozen=True)
class Span:
    """One tile's extent along a side, and how far it overlaps its neighbours before and after."""

    start: int
    length: int
    before: int  # pixels shared with the previous tile (0 for the first)
    after: int  # pixels shared with the next tile (0 for the last)

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class Tile:
    x: Span
    y: Span


def auto_tile_size(width: int, height: int) -> int:
    """The tile size for an image: the whole image when its longer side fits in
    MAX_AUTO_TILE (0, one tile), else MAX_AUTO_TILE, which `spans` evens out per side."""
    return 0 if max(width, height) <= MAX_AUTO_TILE else MAX_AUTO_TILE


def overlap_for(tile: int) -> int:
    """OVERLAP, or a quarter of a small tile, so that a tile's two ramps never meet."""
    return min(OVERLAP, tile // 4)


def spans(size: int, tile: int) -> list[Span]:
    """The fewest spans of at most `tile` pixels covering 0..size, evenly spread."""
    if tile <= 0 or size <= tile:
        return [Span(0, size, 0, 0)]
    overlap = overlap_for(tile)
    count = math.ceil((size - overlap) / (tile - overlap))
    length = min(tile, math.ceil((size + (count - 1) * overlap) / count))
    starts = [round(i * (size - length) / (count - 1)) for i in range(count)]
    found = []
    for i, start in enumerate(starts):
        before = starts[i - 1] + length - start if i > 0 else 0
        after = start + length - starts[i + 1] if i + 1 < count else 0
        found.append(Span(start, length, before, after))
    return found


def plan_tiles(width: int, height: int, tile: int) -> list[Tile]:
    """Every tile of a `width` x `height` image, row by row; `tile` 0 means one tile."""
    columns = spans(width, tile)
    return [Tile(x, y) for y in spans(height, tile) for x in columns]


def ramp(span: Span, scale: int) -> list[float]:
    """The weight of each output pixel of `span` enlarged `scale` times: rising across the
    overlap before it, falling across the overlap after it, one in between.

    A tile's rising ramp and its neighbour's falling ramp cover the same pixels and add up to
    one at each of them."""
    length = span.length * scale
    weights = [1.0] * length
    rise, fall = span.before * scale, span.after * scale
    for k in range(rise):
        weights[k] = (k + 0.5) / rise
    for k in range(fall):
        weights[length - 1 - k] = min(weights[length - 1 - k], (k + 0.5) / fall)
    return weights
