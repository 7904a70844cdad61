"""Tiny upscale models with random weights, in real spandrel architectures, saved as files."""

from __future__ import annotations

from pathlib import Path


def tiny_esrgan_state(scale: int = 2, seed: int = 0) -> dict[str, object]:
    """The state dict of an ESRGAN (RRDBNet) with 8 filters and one block: spandrel detects
    its architecture and scale from the key layout and shapes, as it does for a real one."""
    import pytest
    import torch

    # spandrel is the [upscalers] extra: it needs the torchvision built for the installed torch.
    pytest.importorskip("spandrel", exc_type=ImportError)
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(seed)
    net = ESRGAN(num_filters=8, num_blocks=1, scale=scale)
    return {name: tensor.detach().contiguous() for name, tensor in net.state_dict().items()}


def build_tiny_esrgan(path: Path, scale: int = 2, seed: int = 0) -> Path:
    """Save a tiny ESRGAN to `path`: .safetensors as is, a pickle suffix with torch.save, wrapped
    in "params_ema" as Real-ESRGAN's own files are."""
    import torch
    from safetensors.torch import save_file

    state = tiny_esrgan_state(scale, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        save_file(state, str(path))  # type: ignore[arg-type]
    else:
        torch.save({"params_ema": state}, str(path))
    return path
