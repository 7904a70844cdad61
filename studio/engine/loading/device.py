"""Which device and dtype a run uses: CUDA, then Apple MPS, then the CPU. An explicit choice wins."""

from __future__ import annotations

from typing import Any

DTYPES = ("fp32", "fp16", "bf16")


def pick_device(override: str | None = None) -> str:
    """The device a run uses: `override` when this machine has it (else DeviceError), or the
    best one here when there is no override (None or "")."""
    import torch

    if override:
        return check_device(override)
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def available_devices() -> list[str]:
    """The devices this machine can run on, as Studio names them: cuda:N, mps, cpu."""
    import torch

    found = [f"cuda:{n}" for n in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def check_device(name: str) -> str:
    """`name` in Studio's spelling (cuda, cuda:1, mps, cpu) if this machine has that device,
    else DeviceError naming the devices it has."""
    from studio.engine.errors import DeviceError

    wanted = name.strip().lower()
    have = available_devices()
    here = f"This computer has: {', '.join(have)}."
    kind, _, number = wanted.partition(":")
    if kind not in ("cuda", "mps", "cpu") or (":" in wanted and not number.isdigit()):
        raise DeviceError(f"Unknown device {_shown(name)}. {here}", name)
    if kind == "cuda":
        if not any(d.startswith("cuda") for d in have):
            raise DeviceError(
                f"There is no CUDA GPU here (or this torch was built without CUDA). {here}", name
            )
        if number and f"cuda:{int(number)}" not in have:
            raise DeviceError(f"There is no {kind}:{int(number)}. {here}", name)
        return f"cuda:{int(number)}" if number else "cuda"
    if kind == "mps" and "mps" not in have:
        raise DeviceError(f"Apple's MPS is not available here. {here}", name)
    if number and int(number) != 0:
        raise DeviceError(f"There is no {kind}:{int(number)}. {here}", name)
    return kind


def _shown(text: str, limit: int = 30) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 1] + "…")


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
