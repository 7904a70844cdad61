"""Running an upscale model over an image tile by tile, blending the seams.

Tiles go row by row. Only one band of the enlarged image, a tile row high, is kept in floating
point at a time; rows that no later tile touches are finished into the 8-bit result as soon as
the next row starts, so memory grows with the image's width, not its area, beyond the result.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby
from typing import Any

from studio.engine.run.cancel import CancelToken
from studio.engine.upscale.tiles import Tile, plan_tiles, ramp

Progress = Callable[[int, int], None]


class UpscaleCancelled(Exception):
    """The upscale was cancelled between two tiles; nothing was made. Not a failure."""


def run_tiled(
    descriptor: Any,
    pixels: Any,
    scale: int,
    tile: int,
    *,
    dtype: Any,
    on_progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> Any:
    """`pixels` (a float tensor, channels x height x width, 0..1, on the CPU) enlarged `scale`
    times by the spandrel model `descriptor`, as a height x width x channels uint8 numpy array.

    `tile` is the most input pixels a tile has on a side (0: the whole image in one). The cancel
    token is checked before each tile and `on_progress(done, total)` called after each."""
    import numpy as np
    import torch

    _, height, width = pixels.shape
    plan = plan_tiles(width, height, tile)
    total = len(plan)
    device = descriptor.device
    result = np.empty((height * scale, width * scale, descriptor.output_channels), dtype=np.uint8)
    rows = [list(row) for _, row in groupby(plan, key=lambda t: t.y)]
    carried: tuple[Any, Any] | None = None  # the overlap the previous tile row left for this one
    done = 0
    for number, row in enumerate(rows):
        span = row[0].y
        top, bottom = span.start * scale, span.end * scale
        band = torch.zeros((descriptor.output_channels, bottom - top, width * scale))
        weight = torch.zeros((1, bottom - top, width * scale))
        if carried is not None:
            band[:, : carried[0].shape[1]] = carried[0]
            weight[:, : carried[1].shape[1]] = carried[1]
        for piece in row:
            if cancel is not None and cancel.cancelled:
                raise UpscaleCancelled
            _add_tile(descriptor, pixels, piece, scale, band, weight, device=device, dtype=dtype)
            done += 1
            if on_progress is not None:
                on_progress(done, total)
        finished = rows[number + 1][0].y.start * scale - top if number + 1 < len(rows) else bottom - top
        blended = band[:, :finished] / weight[:, :finished]
        result[top : top + finished] = _to_uint8(blended)
        carried = band[:, finished:], weight[:, finished:]
    return result


def _add_tile(
    descriptor: Any, pixels: Any, tile: Tile, scale: int, band: Any, weight: Any, *, device: Any, dtype: Any
) -> None:
    import torch

    source = pixels[:, tile.y.start : tile.y.end, tile.x.start : tile.x.end]
    with torch.inference_mode():
        enlarged = descriptor(source.unsqueeze(0).to(device=device, dtype=dtype))[0]
    enlarged = enlarged.to(device="cpu", dtype=torch.float32)
    mask = torch.tensor(ramp(tile.y, scale))[:, None] * torch.tensor(ramp(tile.x, scale))[None, :]
    left, right = tile.x.start * scale, tile.x.end * scale
    band[:, :, left:right] += enlarged * mask
    weight[:, :, left:right] += mask


def _to_uint8(values: Any) -> Any:
    import torch

    return values.clamp(0.0, 1.0).mul(255.0).round().to(torch.uint8).permute(1, 2, 0).numpy()
