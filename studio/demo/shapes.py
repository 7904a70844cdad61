"""The demo model's world: one colored shape on a solid background, drawn at 64x64.

Everything here is deterministic: the same labels and seed always draw the same pixels.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star")
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (255, 140, 0),
    "yellow": (250, 220, 20),
    "green": (30, 160, 50),
    "blue": (30, 70, 220),
    "purple": (140, 40, 180),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOR_NAMES: tuple[str, ...] = tuple(COLORS)
SIZES: tuple[str, ...] = ("small", "large")
POSITIONS: tuple[str, ...] = ("left", "right", "top", "bottom", "center")
_POSITION_PHRASE = {
    "left": "at the left",
    "right": "at the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "center": "in the center",
}
# Radius ranges in pixels; an unspecified size draws from the whole range.
_RADIUS = {"small": (8, 11), "large": (17, 21), None: (8, 21)}
_EDGE_MARGIN = 2

Combo = tuple[str, str, str]  # (shape color, background color, shape)


@dataclass(frozen=True)
class Labels:
    shape: str
    color: str
    background: str
    size: str | None = None
    position: str | None = None

    @property
    def combo(self) -> Combo:
        return (self.color, self.background, self.shape)


@dataclass(frozen=True)
class Sample:
    image: Image.Image  # RGB, 64x64
    mask: np.ndarray  # bool (64, 64), True where the shape is
    labels: Labels
    caption: str


def caption(labels: Labels) -> str:
    """One fixed word order: a [size] color shape [position] on a background background."""
    words = [labels.size] if labels.size else []
    words += [labels.color, labels.shape]
    if labels.position:
        words.append(_POSITION_PHRASE[labels.position])
    words += ["on", _article(labels.background), labels.background, "background"]
    return " ".join([_article(words[0]), *words])


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def caption_words() -> list[str]:
    """Every word a caption can use."""
    words = {"a", "an", "on", "background", "at", "the", "in", *COLOR_NAMES, *SHAPES, *SIZES}
    words.update(POSITIONS)
    return sorted(words)


def all_combos() -> list[Combo]:
    return [(c, b, s) for c in COLOR_NAMES for b in COLOR_NAMES if c != b for s in SHAPES]


def _pick_held_out() -> frozenset[Combo]:
    combos = all_combos()
    chosen = random.Random(20261126).sample(combos, len(combos) // 10)
    return frozenset(chosen)


HELD_OUT: frozenset[Combo] = _pick_held_out()
TRAIN_COMBOS: tuple[Combo, ...] = tuple(c for c in all_combos() if c not in HELD_OUT)


def _polygon(shape: str, cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    if shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if shape == "triangle":
        # Pointing up; circumradius r, drawn a little lower so the centroid sits on (cx, cy).
        pts = [(-math.pi / 2) + k * 2 * math.pi / 3 for k in range(3)]
        return [(cx + r * math.cos(a), cy + r * 0.15 + r * math.sin(a)) for a in pts]
    if shape == "star":
        out = []
        for k in range(10):
            a = -math.pi / 2 + k * math.pi / 5
            rr = r if k % 2 == 0 else r * 0.42
            out.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return out
    raise ValueError(f"Unknown shape {shape!r}")


def _center(position: str | None, r: int, rng: random.Random) -> tuple[float, float]:
    lo, hi = r + _EDGE_MARGIN, SIZE - 1 - r - _EDGE_MARGIN
    mid = (SIZE - 1) / 2
    j = lambda: rng.uniform(-2.0, 2.0)  # noqa: E731
    if position is None:
        return rng.uniform(lo, hi), rng.uniform(lo, hi)
    if position == "center":
        return mid + j(), mid + j()
    if position == "left":
        return lo + abs(j()), mid + j()
    if position == "right":
        return hi - abs(j()), mid + j()
    if position == "top":
        return mid + j(), lo + abs(j())
    if position == "bottom":
        return mid + j(), hi - abs(j())
    raise ValueError(f"Unknown position {position!r}")


def draw(labels: Labels, seed: int) -> Sample:
    """Draw the picture for these labels; the seed sets the exact size and placement."""
    if labels.color == labels.background:
        raise ValueError("The shape color must differ from the background color")
    rng = random.Random(f"{seed}:{labels}")
    r = rng.randint(*_RADIUS[labels.size])
    cx, cy = _center(labels.position, r, rng)
    mask_img = Image.new("L", (SIZE, SIZE), 0)
    md = ImageDraw.Draw(mask_img)
    if labels.shape == "circle":
        md.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    else:
        md.polygon(_polygon(labels.shape, cx, cy, r), fill=255)
    mask = np.asarray(mask_img) > 127
    arr = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    arr[:] = COLORS[labels.background]
    arr[mask] = COLORS[labels.color]
    return Sample(Image.fromarray(arr, "RGB"), mask, labels, caption(labels))


def random_labels(rng: random.Random, combos: tuple[Combo, ...] = TRAIN_COMBOS) -> Labels:
    color, background, shape = combos[rng.randrange(len(combos))]
    size = rng.choice((None, None, "small", "large"))
    position = rng.choice((None, None, None, None, *POSITIONS))
    return Labels(shape, color, background, size, position)


def training_samples(seed: int) -> Iterator[Sample]:
    """An endless stream of training pictures; never a held-out combination."""
    rng = random.Random(seed)
    i = 0
    while True:
        yield draw(random_labels(rng), seed * 1_000_003 + i)
        i += 1
