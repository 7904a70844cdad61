"""Which device and dtype a run uses: CUDA, then Apple MPS, then the CPU. An explicit choice wins."""

from __future__ import annotations

from typing import Any

DTYPES = ("fp32", "fp16", "bf16")


def pick_device(override: str | None = None) -> str:
    import torch

    if override:
        return override
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(device: str, override: str | None = None) -> Any:
    """fp16 on MPS, bf16 on CUDA where supported (else fp16), fp32 on the CPU."""
    import torch

    by_name = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
    if override:
        if override not in by_name:
            raise ValueError(f"Unknown precision {override!r}; choose one of {', '.join(DTYPES)}.")
        return by_name[override]
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


def dtype_name(dtype: Any) -> str:
    import torch

    names = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}
    return names.get(dtype, str(dtype))
