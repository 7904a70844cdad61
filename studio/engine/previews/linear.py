"""Linear latent-to-RGB preview decoding: rgb = latent @ M + b, for a Cx3 matrix M.

Known factors cover the SD 1.x/2.x and SDXL latent spaces. Any other model gets a least-squares
fit against its own VAE, made once and cached on disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from studio.config.atomic import SaveError, write_atomic
from studio.engine.previews.synthetic import synthetic_images

FIT_VERSION = 1
MODEL_FILE = "studio_preview.json"  # a fit shipped inside a model folder (read only)

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


@dataclass
class LinearDecoder:
    matrix: np.ndarray  # C x 3
    bias: np.ndarray  # 3
    fit_psnr: float | None = None  # dB against the VAE's decode of held-out pictures, when fitted
    name: str = "linear"
    _on_device: dict[str, tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def render(self, latents: Any) -> Any:
        """HxWx3 uint8 tensor on the latent's device, from one CxHxW latent.

        One fused multiply-add, with the [-1, 1] -> [0, 255] scaling folded into M and b.
        """
        import torch

        # fp32 even for half-precision latents: bf16 rounds values near 255 by several levels.
        key = str(latents.device)
        if key not in self._on_device:
            self._on_device[key] = (
                torch.as_tensor(self.matrix * 127.5, dtype=torch.float32, device=latents.device),
                torch.as_tensor((self.bias + 1) * 127.5, dtype=torch.float32, device=latents.device),
            )
        m, b = self._on_device[key]
        channels, height, width = latents.shape
        with torch.no_grad():
            rgb = torch.addmm(b, latents.reshape(channels, -1).t().float(), m)  # (H*W) x 3
            return rgb.clamp_(0, 255).to(torch.uint8).reshape(height, width, 3)

    def decode(self, latents: Any) -> np.ndarray:
        """HxWx3 uint8 numpy image from one CxHxW latent."""
        return np.ascontiguousarray(self.render(latents).cpu().numpy())


def known_decoder(family: str, channels: int) -> LinearDecoder | None:
    if family not in KNOWN_FACTORS or channels != 4:
        return None
    matrix, bias = KNOWN_FACTORS[family]
    return LinearDecoder(np.array(matrix, dtype=np.float32), np.array(bias, dtype=np.float32))


def linear_decoder_for(
    family: str, vae: Any, *, model_path: Path | None = None, cache_dir: Path | None = None
) -> LinearDecoder:
    """Known factors, else a fit shipped in the model folder, else a cached fit, else a new fit."""
    channels = int(getattr(vae.config, "latent_channels", 4))
    known = known_decoder(family, channels)
    if known is not None:
        return known
    if model_path is not None:
        shipped = _load(model_path / MODEL_FILE, channels, key=None)
        if shipped is not None:
            return shipped
    cache_file = _cache_file(model_path, cache_dir)
    key = _cache_key(model_path)
    if cache_file is not None:
        cached = _load(cache_file, channels, key=key)
        if cached is not None:
            return cached
    decoder = fit_linear(vae)
    if cache_file is not None:
        save_fit(decoder, cache_file, key=key)
    return decoder


def vae_scale(vae: Any) -> int:
    return int(2 ** (len(getattr(vae.config, "block_out_channels", (0,) * 4)) - 1))


def fit_linear(vae: Any, *, samples: int = 16, latent_size: int = 16, seed: int = 0) -> LinearDecoder:
    """Fit M and b by least squares against the VAE's decode of its own encodings of pictures.

    A quarter of the pictures is held out to measure the fit (PSNR, in dB).
    """
    latents, targets = _pairs(vae, samples, latent_size, seed)
    channels = latents.shape[1]
    held = max(1, samples // 4)
    x = latents.transpose(0, 2, 3, 1).reshape(samples, -1, channels)
    y = targets.transpose(0, 2, 3, 1).reshape(samples, -1, 3)
    train = _solve(x[held:].reshape(-1, channels), y[held:].reshape(-1, 3))
    psnr = _psnr(_apply(train, x[:held].reshape(-1, channels)), y[:held].reshape(-1, 3))
    solution = _solve(x.reshape(-1, channels), y.reshape(-1, 3))
    return LinearDecoder(solution[:-1].astype(np.float32), solution[-1].astype(np.float32), psnr)


def _pairs(vae: Any, samples: int, latent_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(scaled latents, VAE decode pooled to latent size), both float32 numpy, in batches."""
    import torch

    param = next(vae.parameters())
    scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
    shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)
    pictures = synthetic_images(samples, latent_size * vae_scale(vae), seed=seed)
    lat_parts, img_parts = [], []
    with torch.no_grad():
        for start in range(0, samples, 4):
            batch = torch.from_numpy(pictures[start : start + 4]).to(param.device, param.dtype)
            raw = vae.encode(batch).latent_dist.mean
            decoded = vae.decode(raw).sample.float()
            decoded = torch.nn.functional.adaptive_avg_pool2d(decoded, raw.shape[-2:])
            lat_parts.append(((raw.float() - shift) * scale).cpu().numpy())
            img_parts.append(decoded.clamp(-1, 1).cpu().numpy())
    return np.concatenate(lat_parts), np.concatenate(img_parts)


def _solve(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    design = np.concatenate([x, np.ones((x.shape[0], 1), dtype=x.dtype)], axis=1)
    solution, *_ = np.linalg.lstsq(design.astype(np.float64), y.astype(np.float64), rcond=None)
    return np.asarray(solution)


def _apply(solution: np.ndarray, x: np.ndarray) -> np.ndarray:
    result: np.ndarray = np.clip(x @ solution[:-1] + solution[-1], -1, 1)
    return result


def _psnr(predicted: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of two images in [-1, 1], measured on the [0, 1] scale."""
    mse = float(np.mean(((predicted - target) / 2.0) ** 2))
    return 99.0 if mse <= 1e-10 else float(10 * math.log10(1.0 / mse))


def _cache_key(model_path: Path | None) -> str:
    if model_path is None:
        return ""
    parts = [str(model_path.resolve()), str(FIT_VERSION)]
    for file in sorted((model_path / "vae").glob("*")):
        if file.is_file():
            stat = file.stat()
            parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts)


def _cache_file(model_path: Path | None, cache_dir: Path | None) -> Path | None:
    if model_path is None or cache_dir is None:
        return None
    digest = hashlib.sha1(_cache_key(model_path).encode("utf-8")).hexdigest()[:20]
    return cache_dir / "previews" / f"linear-{digest}.json"


def save_fit(decoder: LinearDecoder, path: Path, *, key: str = "") -> None:
    """Write a fit as JSON, atomically; a cache that cannot be written is only a lost speed-up."""
    data = {
        "version": FIT_VERSION,
        "key": key,
        "matrix": decoder.matrix.tolist(),
        "bias": decoder.bias.tolist(),
        "fit_psnr": decoder.fit_psnr,
    }
    with contextlib.suppress(SaveError):
        write_atomic(path, json.dumps(data, indent=1), durable=False)


def _load(path: Path, channels: int, *, key: str | None) -> LinearDecoder | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if key is not None and data.get("key") != key:
            return None
        matrix = np.array(data["matrix"], dtype=np.float32)
        bias = np.array(data["bias"], dtype=np.float32)
        psnr = data.get("fit_psnr")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if matrix.shape != (channels, 3) or bias.shape != (3,) or not np.isfinite(matrix).all():
        return None
    return LinearDecoder(matrix, bias, float(psnr) if isinstance(psnr, (int, float)) else None)
