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


def _hull_area(mask: np.ndarray) -> float:
    ys, xs = np.nonzero(mask)
    corners = {
        (x + dx, y + dy) for x, y in zip(xs.tolist(), ys.tolist(), strict=True) for dx in (0, 1) for dy in (0, 1)
    }
    pts = sorted(corners)
    if len(pts) < 3:
        return 0.0

    def cross(o: tuple[int, int], a: tuple[int, int], b: tuple[int, int]) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[int, int]] = []
    upper: list[tuple[int, int]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    hull = lower[:-1] + upper[:-1]
    area = 0.0
    for (x1, y1), (x2, y2) in zip(hull, hull[1:] + hull[:1], strict=True):
        area += x1 * y2 - x2 * y1
    return abs(area) / 2


def shape_features(mask: np.ndarray) -> tuple[float, float]:
    """(fill of the bounding box, solidity = area / convex hull area)."""
    ys, xs = np.nonzero(mask)
    area = float(len(ys))
    box = float((ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1))
    return area / box, area / max(_hull_area(mask), 1.0)


def classify_shape(mask: np.ndarray) -> str | None:
    if mask.sum() < 12:
        return None
    fill, solidity = shape_features(mask)
    if solidity < 0.78:
        return "star"
    if fill > 0.9:
        return "square"
    if fill < 0.64:
        return "triangle"
    return "circle"


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
    raw = np.sqrt(((img - bg_rgb) ** 2).sum(-1)) > _DIFF
    mask = _largest_component(raw)
    if mask.sum() < 12:
        return Reading(background, None, None, mask)
    color = _majority(img[mask])
    return Reading(background, color, classify_shape(mask), mask)
