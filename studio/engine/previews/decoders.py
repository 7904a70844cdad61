"""Neural preview decoders: the tiny autoencoder (TAESD) and the model's full VAE.

Both run on the latent's device and hand back one small uint8 image, so a preview moves
a few kilobytes off the device, never a float tensor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

TINY_FOLDERS = ("taesd", "taesdxl", "tiny_vae", "vae_tiny")
FULL_PREVIEW_SIDE = 256  # the full VAE's preview is shrunk on the device to this long side


def find_tiny_folder(model_path: Path | None, user_path: Path | None = None) -> Path | None:
    """A diffusers AutoencoderTiny folder: the one the user named, else one inside the model."""
    candidates = [user_path] if user_path is not None else []
    if model_path is not None:
        candidates += [model_path / name for name in TINY_FOLDERS]
    for folder in candidates:
        if folder is None or not (folder / "config.json").is_file():
            continue
        if any(folder.glob("*.safetensors")):
            return folder
    return None


def _to_uint8(images: Any) -> Any:
    """HxWx3 uint8 tensor from one 3xHxW image in [-1, 1], converted on its device."""
    import torch

    return ((images.float() + 1.0) * 127.5).clamp(0, 255).to(torch.uint8).permute(1, 2, 0)


class _Decoder:
    def render(self, latents: Any) -> Any:
        raise NotImplementedError

    def decode(self, latents: Any) -> np.ndarray:
        """HxWx3 uint8 numpy image from one CxHxW latent."""
        return np.ascontiguousarray(self.render(latents).cpu().numpy())


class TinyDecoder(_Decoder):
    """TAESD: decodes the denoiser's (scaled) latents directly, for a few % of a step."""

    name = "tiny"

    def __init__(self, model: Any) -> None:
        self.model = model

    @classmethod
    def load(cls, folder: Path, device: Any, dtype: Any) -> TinyDecoder:
        from diffusers import AutoencoderTiny

        model = AutoencoderTiny.from_pretrained(str(folder), use_safetensors=True)
        return cls(model.to(device=device, dtype=dtype).eval())

    def render(self, latents: Any) -> Any:
        import torch

        param = next(self.model.parameters())
        with torch.no_grad():
            image = self.model.decode(latents[None].to(param.device, param.dtype)).sample[0]
        return _to_uint8(image)


class FullDecoder(_Decoder):
    """The model's own VAE: exact, and as dear as the final decode."""

    name = "full"

    def __init__(self, vae: Any) -> None:
        self.vae = vae

    def render(self, latents: Any) -> Any:
        import torch

        param = next(self.vae.parameters())
        scale = float(getattr(self.vae.config, "scaling_factor", 1.0) or 1.0)
        shift = float(getattr(self.vae.config, "shift_factor", 0.0) or 0.0)
        with torch.no_grad():
            raw = latents[None].to(param.device, param.dtype) / scale + shift
            image = self.vae.decode(raw).sample
            side = max(image.shape[-2:])
            if side > FULL_PREVIEW_SIDE:
                size = tuple(max(1, d * FULL_PREVIEW_SIDE // side) for d in image.shape[-2:])
                image = torch.nn.functional.interpolate(image.float(), size=size, mode="area")
        return _to_uint8(image[0])
