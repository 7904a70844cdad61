"""The forward process, shown: an image noised to step t by the model's own scheduler.

q(x_t | x_0) in latent space: encode with the VAE, `scheduler.add_noise`, decode. The noise
level at t is exactly the strength image-to-image would start from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image


def noised_latents(pipe: Any, image: Image.Image, t_fraction: float, *, seed: int = 0) -> Any:
    """Scaled latents of `image` noised to t_fraction (0 clean .. 1 pure noise) of training time."""
    import torch

    if not 0.0 <= t_fraction <= 1.0:
        raise ValueError(f"The noise level is a fraction from 0 to 1, not {t_fraction}.")
    vae = pipe.vae
    param = next(vae.parameters())
    scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
    shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    width, height = (max(factor, d // factor * factor) for d in image.size)
    rgb = np.array(image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS))
    pixels = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1
    generator = torch.Generator("cpu").manual_seed(seed)
    with torch.no_grad():
        raw = vae.encode(pixels.to(param.device, param.dtype)).latent_dist.mean
        clean = (raw - shift) * scale
        train_steps = int(pipe.scheduler.config.num_train_timesteps)
        timestep = round(t_fraction * (train_steps - 1))
        if timestep == 0 and t_fraction == 0.0:
            return clean
        noise = torch.randn(clean.shape, generator=generator).to(clean.device, clean.dtype)
        return _add_noise(pipe.scheduler, clean, noise, timestep)


def _add_noise(scheduler: Any, clean: Any, noise: Any, timestep: int) -> Any:
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, with the scheduler's own abar_t.

    This is what `add_noise` does for alpha-space schedulers (DDIM, DPM++, UniPC); Euler's
    sigma-space x_0 + sigma_t eps is the same picture divided by sqrt(abar_t).
    """
    abar = scheduler.alphas_cumprod[timestep].to(clean.device, clean.dtype)
    return abar.sqrt() * clean + (1 - abar).sqrt() * noise


def noised_preview(
    pipe: Any, image: Image.Image, t_fraction: float, *, decoder: Any = None, seed: int = 0
) -> Image.Image:
    """`image` noised to t_fraction by the model's forward process, decoded to a picture.

    With a preview decoder (e.g. the linear one) it is cheap enough for a slider; without
    one the full VAE decodes it.
    """
    import torch

    latents = noised_latents(pipe, image, t_fraction, seed=seed)
    if decoder is not None:
        return Image.fromarray(decoder.decode(latents[0]))
    vae = pipe.vae
    scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
    shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)
    with torch.no_grad():
        decoded = vae.decode(latents / scale + shift).sample[0]
    rgb = ((decoded.float() + 1) * 127.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0)
    return Image.fromarray(np.ascontiguousarray(rgb.cpu().numpy()))
