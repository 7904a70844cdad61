"""`upscale()`: an image enlarged by an exact scale with a named upscaler.

A model enlarges by its native scale (2x, 4x...), in tiles; the result is then resized with
Lanczos to the exact size asked for, so any scale from 1 to 8 works with any model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from studio.engine.catalogue.checkpoints import PickleConsent
from studio.engine.errors import ModelError, is_out_of_memory
from studio.engine.run.cancel import CancelToken
from studio.engine.upscale.catalogue import resolve_upscaler
from studio.engine.upscale.limits import check_output, check_scale, check_tile, output_size
from studio.engine.upscale.tiled import Progress, UpscaleCancelled, run_tiled
from studio.engine.upscale.tiles import auto_tile_size
from studio.engine.upscale.weights import UpscaleModel, load_upscale_model

_MODES = {1: "L", 3: "RGB"}


class UpscaleOutOfMemory(MemoryError):
    """A tile did not fit in the device's memory; the message suggests a smaller tile."""


def upscale(
    image: Image.Image,
    scale: float,
    upscaler: str,
    *,
    models_dir: Path,
    device: str | None = None,
    tile: int | None = None,
    consent: PickleConsent | None = None,
    on_progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> Image.Image:
    """`image` enlarged `scale` times (1 to 8) by the upscaler named `upscaler` (see
    `list_upscalers`). `tile` is the most input pixels a tile has on a side, 0 for one tile,
    None to choose from the image's size.

    Raises InvalidRequest (scale, tile, output size), ModelError (unknown name, pickle without
    consent, a file that is no upscaler or is damaged), DeviceError, UpscaleOutOfMemory, or
    UpscaleCancelled."""
    check_scale(scale)
    check_tile(tile)
    check_output(image.width, image.height, scale)
    chosen = resolve_upscaler(upscaler, models_dir)
    if chosen.path is None:
        _checkpoint(cancel)
        resized = lanczos(image, scale)
        if on_progress is not None:
            on_progress(1, 1)
        return resized
    model = load_upscale_model(chosen.path, consent)
    return upscale_with(model, image, scale, device=device, tile=tile, on_progress=on_progress, cancel=cancel)


def upscale_with(
    model: UpscaleModel,
    image: Image.Image,
    scale: float,
    *,
    device: str | None = None,
    tile: int | None = None,
    on_progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> Image.Image:
    """`image` enlarged `scale` times by a loaded model: its native scale in tiles, then Lanczos."""
    import numpy as np
    import torch

    from studio.engine.loading.device import pick_device

    check_scale(scale)
    check_tile(tile)
    check_output(image.width, image.height, scale)
    check_output(image.width, image.height, model.scale, stage=f"at {model.name}'s native {model.scale}x")
    mode = _MODES.get(model.input_channels)
    if mode is None or model.output_channels != model.input_channels:
        raise ModelError(
            f"{model.name} turns {model.input_channels}-channel images into {model.output_channels}-channel "
            "ones; Studio upscales colour (3) and grey (1) images with models that keep the channels."
        )
    colour, alpha = _split_alpha(image, mode)
    target = output_size(image.width, image.height, scale)
    chosen_device = pick_device(device)
    descriptor = model.descriptor.to(torch.device(chosen_device))
    dtype = _dtype(descriptor, chosen_device)
    descriptor.to(dtype)
    pixels = torch.from_numpy(np.asarray(colour, dtype=np.uint8).copy())
    pixels = (pixels[:, :, None] if pixels.ndim == 2 else pixels).permute(2, 0, 1).float().div_(255.0)
    size = auto_tile_size(image.width, image.height) if tile is None else tile
    try:
        enlarged = run_tiled(
            descriptor, pixels, model.scale, size, dtype=dtype, on_progress=on_progress, cancel=cancel
        )
    except (RuntimeError, MemoryError) as error:
        if isinstance(error, MemoryError) or is_out_of_memory(error):
            raise UpscaleOutOfMemory(_oom_advice(size, image)) from None
        raise
    result = Image.fromarray(enlarged[:, :, 0] if mode == "L" else enlarged, mode)
    if result.size != target:
        result = result.resize(target, Image.Resampling.LANCZOS)
    if alpha is not None:
        result.putalpha(alpha.resize(target, Image.Resampling.LANCZOS))
    return result


def lanczos(image: Image.Image, scale: float) -> Image.Image:
    """The built-in upscaler: a Lanczos resize, which adds no detail but invents none either."""
    working = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert(_plain_mode(image))
    return working.resize(output_size(image.width, image.height, scale), Image.Resampling.LANCZOS)


def _split_alpha(image: Image.Image, mode: str) -> tuple[Image.Image, Image.Image | None]:
    """The pixels the model sees, in its mode, and the alpha channel it does not (resized apart)."""
    plain = image.convert(_plain_mode(image)) if image.mode not in ("RGB", "RGBA", "L", "LA") else image
    alpha = plain.getchannel("A") if "A" in plain.getbands() else None
    return plain.convert(mode), alpha


def _plain_mode(image: Image.Image) -> str:
    has_alpha = "A" in image.getbands() or "transparency" in image.info
    grey = image.mode in ("1", "L", "LA", "I", "I;16", "F")
    return ("LA" if has_alpha else "L") if grey else ("RGBA" if has_alpha else "RGB")


def _dtype(descriptor: Any, device: str) -> Any:
    """fp32 on the CPU (where half precision is slower); fp16 on a GPU when the model allows it."""
    import torch

    if device == "cpu":
        return torch.float32
    if getattr(descriptor, "supports_half", False):
        return torch.float16
    if device.startswith("cuda") and getattr(descriptor, "supports_bfloat16", False):
        return torch.bfloat16
    return torch.float32


def _checkpoint(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise UpscaleCancelled


def _oom_advice(tile: int, image: Image.Image) -> str:
    used = tile or max(image.width, image.height)
    return (
        f"The device ran out of memory upscaling tiles of up to {used} pixels. Choose a smaller tile "
        f"size (for example {max(64, used // 2)}), or close other programs that use the device."
    )
