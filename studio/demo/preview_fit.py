"""Ship the demo model's linear preview decoder, fitted on the pictures it was trained on.

Fitting on its own world (rather than on generic synthetic pictures) gives the demo's small,
strongly non-linear VAE its best affine latent-to-RGB map, and shipping it means the first
run needs no fit at all.

    python -m studio.demo.preview_fit resources/models/studio-shapes
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np


def fit_demo_preview(folder: Path, *, samples: int = 256, seed: int = 4242) -> float:
    """Fit, save `studio_preview.json` into `folder`, and return the held-out PSNR in dB."""
    import torch
    from diffusers import AutoencoderKL

    from studio.demo.shapes import training_samples
    from studio.engine.previews.linear import MODEL_FILE, LinearDecoder, _apply, _psnr, _solve, save_fit

    vae = AutoencoderKL.from_pretrained(str(folder / "vae")).float().eval()
    scale = float(vae.config.scaling_factor)
    drawn = list(itertools.islice(training_samples(seed), samples))
    pixels = np.stack([np.asarray(s.image.convert("RGB"), dtype=np.float32) / 127.5 - 1 for s in drawn])
    with torch.no_grad():
        images = torch.from_numpy(pixels.transpose(0, 3, 1, 2))
        raw = vae.encode(images).latent_dist.mean
        decoded = vae.decode(raw).sample
    pooled = torch.nn.functional.adaptive_avg_pool2d(decoded, raw.shape[-2:]).clamp(-1, 1).numpy()
    x = (raw.numpy() * scale).transpose(0, 2, 3, 1).reshape(-1, raw.shape[1])
    y = pooled.transpose(0, 2, 3, 1).reshape(-1, 3)
    held = len(x) // 4
    psnr = _psnr(_apply(_solve(x[held:], y[held:]), x[:held]), y[:held])
    solution = _solve(x, y)
    decoder = LinearDecoder(solution[:-1].astype(np.float32), solution[-1].astype(np.float32), psnr)
    save_fit(decoder, folder / MODEL_FILE)
    return psnr


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("resources/models/studio-shapes")
    print(f"linear preview fit: {fit_demo_preview(target):.1f} dB on held-out pictures")
