"""Linear latent-to-RGB preview decoding: rgb = latent @ M + b, for a Cx3 matrix M."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# Factors for scaled latents (what the denoiser sees), giving RGB in [-1, 1].
KNOWN_FACTORS: dict[str, tuple[list[list[float]], list[float]]] = {
    "SD 1.x": (
        [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350],
         [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]],
        [0.0, 0.0, 0.0],
    ),
    "SDXL": (
        [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068],
         [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]],
        [0.1084, -0.0175, -0.0011],
    ),
}
KNOWN_FACTORS["SD 2.x"] = KNOWN_FACTORS["SD 1.x"]


@dataclass(frozen=True)
class LinearDecoder:
    matrix: np.ndarray  # C x 3
    bias: np.ndarray  # 3
    fit_error: float | None = None  # RMS error in [0, 1] RGB units, when fitted

    def decode(self, latents: Any) -> np.ndarray:
        """HxWx3 uint8 from one CxHxW latent (torch tensor or numpy array)."""
        import torch

        with torch.no_grad():
            m = torch.as_tensor(self.matrix, dtype=torch.float32, device=latents.device)
            b = torch.as_tensor(self.bias, dtype=torch.float32, device=latents.device)
            rgb = torch.einsum("chw,ck->hwk", latents.float(), m) + b
            rgb = ((rgb + 1.0) * 127.5).clamp(0, 255).to(torch.uint8)
        return np.ascontiguousarray(rgb.cpu().numpy())


def fit_linear(vae: Any, channels: int, *, samples: int = 8, size: int = 16, seed: int = 0) -> LinearDecoder:
    """Fit M and b by least squares against the VAE's own decode of random latents."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
    param = next(vae.parameters())
    latents = torch.randn(samples, channels, size, size, generator=gen)
    with torch.no_grad():
        images = vae.decode(
            (latents / scale).to(device=param.device, dtype=param.dtype)
        ).sample.float().cpu()
    images = torch.nn.functional.adaptive_avg_pool2d(images, (size, size)).clamp(-1, 1)
    x = latents.permute(0, 2, 3, 1).reshape(-1, channels).numpy()
    y = images.permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    design = np.concatenate([x, np.ones((x.shape[0], 1), dtype=x.dtype)], axis=1)
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = design @ solution - y
    error = float(np.sqrt(np.mean((residual / 2.0) ** 2)))
    return LinearDecoder(solution[:-1].astype(np.float32), solution[-1].astype(np.float32), error)


def decoder_for(family: str, vae: Any, channels: int) -> LinearDecoder:
    if family in KNOWN_FACTORS and channels == 4:
        matrix, bias = KNOWN_FACTORS[family]
        return LinearDecoder(np.array(matrix, dtype=np.float32), np.array(bias, dtype=np.float32))
    return fit_linear(vae, channels)
