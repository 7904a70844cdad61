"""Read a 64x64 picture back into labels: background color, shape color, shape class."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from studio.demo import shapes

_PALETTE = np.array(list(shapes.COLORS.values()), dtype=np.float32)
_NAMES = list(shapes.COLORS)
_DIFF = 70.0  # RGB distance from the background above which a pixel belongs to the shape


@dataclass(frozen=True)
class Reading:
    background: str
    color: str | None
    shape: str | None
    mask: np.ndarray


def nearest_colors(pixels: np.ndarray) -> np.ndarray:
    """Index of the nearest palette color for each RGB pixel (N, 3)."""
    d = ((pixels[:, None, :].astype(np.float32) - _PALETTE[None]) ** 2).sum(-1)
    return d.argmin(1)


def _majority(pixels: np.ndarray) -> str:
    counts = np.bincount(nearest_colors(pixels), minlength=len(_NAMES))
    return _NAMES[int(counts.argmax())]


def _largest_component(mask: np.ndarray) -> np.ndarray:
    h, w = mask.shape
    seen = np.zeros_like(mask)
    best: list[tuple[int, int]] = []
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        comp, queue = [], deque([(int(y0), int(x0))])
        seen[y0, x0] = True
        while queue:
            y, x = queue.popleft()
            comp.append((y, x))
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        if len(comp) > len(best):
            best = comp
    out = np.zeros_like(mask)
    if best:
        ys, xs = zip(*best, strict=True)
        out[list(ys), list(xs)] = True
    return out


# Each class's harmonic strength on a crisp drawing; a mask scoring under _MIN_SCORE of
# every one of them is round.
_HARMONIC_SHAPES = ("triangle", "square", "star")
_HARMONIC_REF = np.array([0.145, 0.073, 0.18])
_MIN_SCORE = 0.25


def classify_shape(mask: np.ndarray) -> str | None:
    if mask.sum() < 12:
        return None
    score = harmonics(mask) / _HARMONIC_REF
    if score.max() < _MIN_SCORE:
        return "circle"
    return _HARMONIC_SHAPES[int(score.argmax())]


def read(image: np.ndarray) -> Reading:
    """Labels of an (64, 64, 3) uint8 picture."""
    img = image.astype(np.float32)
    border = np.concatenate(
        [
            img[:2].reshape(-1, 3),
            img[-2:].reshape(-1, 3),
            img[:, :2].reshape(-1, 3),
            img[:, -2:].reshape(-1, 3),
        ]
    )
    background = _majority(border)
    bg_rgb = np.asarray(shapes.COLORS[background], dtype=np.float32)
    dist_bg = np.sqrt(((img - bg_rgb) ** 2).sum(-1))
    rough = _largest_component(dist_bg > _DIFF)
    if rough.sum() < 12:
        return Reading(background, None, None, rough)
    # The shape color from its clearest pixels; then the mask is every pixel nearer to the
    # shape color than to the background, which undoes a soft (decoded) edge symmetrically.
    core = rough & (dist_bg >= np.quantile(dist_bg[rough], 0.5))
    color = _majority(img[core])
    fg_rgb = np.asarray(shapes.COLORS[color], dtype=np.float32)
    nearer = ((img - fg_rgb) ** 2).sum(-1) < ((img - bg_rgb) ** 2).sum(-1)
    mask = _largest_component(nearer & (dist_bg > _DIFF / 2))
    if mask.sum() < 12:
        return Reading(background, color, None, mask)
    return Reading(background, color, classify_shape(mask), mask)


def harmonics(mask: np.ndarray, bins: int = 72) -> np.ndarray:
    """Strength of the 3rd, 4th and 5th angular harmonics of the outline, over the mean radius.

    A triangle's outline repeats 3 times around its center, a square's 4 times, a star's 5
    times, a circle's not at all; this survives the soft edges of a decoded picture.
    """
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    inner = mask.copy()
    inner[1:-1, 1:-1] &= mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    by, bx = np.nonzero(mask & ~inner)
    ang = np.arctan2(by - cy, bx - cx)
    rad = np.hypot(by - cy, bx - cx)
    idx = ((ang + np.pi) / (2 * np.pi) * bins).astype(int) % bins
    prof = np.zeros(bins)
    np.maximum.at(prof, idx, rad)
    empty = prof == 0
    if empty.all():
        return np.zeros(3)
    prof[empty] = np.interp(np.nonzero(empty)[0], np.nonzero(~empty)[0], prof[~empty])
    spec = np.abs(np.fft.rfft(prof)) / (bins * prof.mean())
    return spec[3:6]


_MID = (shapes.SIZE - 1) / 2


def layout_matches(mask: np.ndarray, size: str | None, position: str | None) -> bool:
    """Whether the shape's extent and centre fit the caption's size and position words.

    A small shape spans a radius of at most 11 pixels and a large one at least 14; a shape
    at the left has its centre left of the middle and about level with it, and so on.
    """
    if not mask.any():
        return False
    ys, xs = np.nonzero(mask)
    half_extent = max(xs.max() - xs.min(), ys.max() - ys.min()) / 2
    if (size == "small" and half_extent > 12.5) or (size == "large" and half_extent < 12.5):
        return False
    cx, cy = xs.mean(), ys.mean()
    off_x, off_y = cx - _MID, cy - _MID
    near = {
        "left": off_x < -3 and abs(off_y) < 8,
        "right": off_x > 3 and abs(off_y) < 8,
        "top": off_y < -3 and abs(off_x) < 8,
        "bottom": off_y > 3 and abs(off_x) < 8,
        "center": abs(off_x) < 6 and abs(off_y) < 6,
    }
    return position is None or near[position]
