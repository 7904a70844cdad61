"""Synthetic pictures for fitting preview decoders: colour fields, gradients and shapes.

Latents of pictures (through the VAE's own encoder) look like the latents a denoiser
produces far better than random normal latents do, so a fit on them previews real runs better.
"""

from __future__ import annotations

import numpy as np


def synthetic_images(count: int, size: int, *, seed: int = 0) -> np.ndarray:
    """`count` RGB pictures as a float32 array (count, 3, size, size) in [-1, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(1, size - 1)
    images = np.empty((count, 3, size, size), dtype=np.float32)
    for n in range(count):
        kind = n % 4
        a, b = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        if kind == 0:  # flat colour field
            img = np.broadcast_to(a[:, None, None], (3, size, size)).copy()
        else:  # linear gradient in a random direction
            angle = rng.uniform(0, 2 * np.pi)
            t = np.clip((np.cos(angle) * xx + np.sin(angle) * yy + 1) / 2, 0, 1)
            img = a[:, None, None] * (1 - t) + b[:, None, None] * t
        if kind >= 2:  # shapes on top: discs and boxes
            for _ in range(int(rng.integers(1, 4))):
                colour = rng.uniform(0, 1, 3)[:, None]
                cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
                if rng.random() < 0.5:
                    mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
                else:
                    mask = (abs(xx - cx) < r) & (abs(yy - cy) < r * 0.7)
                img[:, mask] = colour
        if kind == 3:  # a little texture
            img = img + rng.normal(0, 0.04, img.shape)
        images[n] = np.clip(img, 0, 1) * 2 - 1
    return images
