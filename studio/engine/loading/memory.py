"""Memory and speed options for a loaded pipeline, with automatic defaults from the device.

Each option is True, False or None; None means "decide from the device and its free memory".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

Offload = Literal["none", "model", "sequential"]
GIB = 1024**3

# Working memory a run needs beyond the weights (activations, VAE decode), by family, at the
# family's native size; measured roughly on CUDA with fp16 and plain attention.
_WORKING_SET = {"SD 1.x": 2.0 * GIB, "SD 2.x": 3.0 * GIB, "SDXL": 5.0 * GIB,
                "SD3": 6.0 * GIB, "Flux": 8.0 * GIB}
_DEFAULT_WORKING_SET = 3.0 * GIB


@dataclass(frozen=True)
class MemoryOptions:
    """What the person chose; None leaves the choice to `plan_memory`."""

    dtype: str | None = None  # "fp32", "fp16" or "bf16"
    attention_slicing: bool | None = None
    vae_tiling: bool | None = None
    vae_slicing: bool | None = None
    offload: Offload | None = None


@dataclass(frozen=True)
class MemoryPlan:
    """Options with every choice made, and why (for the UI and the logs)."""

    attention_slicing: bool
    vae_tiling: bool
    vae_slicing: bool
    offload: Offload
    reason: str = ""


def free_memory(device: str) -> tuple[int, int] | None:
    """(free, total) bytes of the device's memory, or None where it cannot be asked."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        free, total = torch.cuda.mem_get_info(torch.device(device))
        return int(free), int(total)
    if device.startswith("mps"):
        mps = getattr(torch, "mps", None)
        recommended = getattr(mps, "recommended_max_memory", None)
        allocated = getattr(mps, "driver_allocated_memory", None)
        if recommended is not None and allocated is not None:
            total = int(recommended())
            return max(0, total - int(allocated())), total
    return None


def plan_memory(
    options: MemoryOptions,
    device: str,
    *,
    model_bytes: int,
    family: str = "other",
    memory: tuple[int, int] | None = None,
) -> MemoryPlan:
    """Fill in every None in `options` for a model of `model_bytes` on `device`.

    `memory` is (free, total) device bytes. The rules: the CPU gets no offload and no
    attention slicing (its RAM is the limit, and slicing only slows it); a GPU that holds the
    weights and the working set comfortably gets nothing; one that holds the weights but not
    the working set gets slicing and tiling; one that cannot hold the weights offloads.
    """
    working = _WORKING_SET.get(family, _DEFAULT_WORKING_SET)
    if device == "cpu" or memory is None:
        reason = "CPU: memory is host RAM" if device == "cpu" else "device memory unknown"
        auto = MemoryPlan(False, False, True, "none", reason)
    else:
        free, _total = memory
        if free >= model_bytes + 1.5 * working:
            auto = MemoryPlan(False, False, True, "none", "fits with room to spare")
        elif free >= model_bytes + 0.5 * working:
            auto = MemoryPlan(True, True, True, "none", "fits; slicing and tiling save room")
        elif free >= 0.85 * model_bytes + 0.5 * working:  # the denoiser is most of the weights
            auto = MemoryPlan(True, True, True, "model", "weights do not fit: offload by model")
        else:
            auto = MemoryPlan(True, True, True, "sequential", "little memory: offload by layer")
        if device.startswith("mps"):
            auto = replace(auto, attention_slicing=True)  # diffusers' advice for Apple GPUs
    return MemoryPlan(
        attention_slicing=_pick(options.attention_slicing, auto.attention_slicing),
        vae_tiling=_pick(options.vae_tiling, auto.vae_tiling),
        vae_slicing=_pick(options.vae_slicing, auto.vae_slicing),
        offload=options.offload if options.offload is not None else auto.offload,
        reason=auto.reason,
    )


def _pick(choice: bool | None, auto: bool) -> bool:
    return auto if choice is None else choice


def model_bytes(pipe: Any) -> int:
    """Bytes of all weights of a pipeline's torch modules."""
    import torch

    total = 0
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            total += sum(p.numel() * p.element_size() for p in component.parameters())
    return total


def apply_memory_plan(pipe: Any, plan: MemoryPlan, device: str) -> Any:
    """Turn the plan's options on or off and place the pipeline on `device` (or offload it)."""
    if plan.attention_slicing:
        _try(pipe, "enable_attention_slicing")
    else:
        _try(pipe, "disable_attention_slicing")
    vae = getattr(pipe, "vae", None)
    if vae is not None:
        _try(vae, "enable_tiling" if plan.vae_tiling else "disable_tiling")
        _try(vae, "enable_slicing" if plan.vae_slicing else "disable_slicing")
    if plan.offload == "model" and device != "cpu":
        pipe.enable_model_cpu_offload(device=device)
    elif plan.offload == "sequential" and device != "cpu":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe = pipe.to(device)
    return pipe


def _try(obj: Any, method: str) -> None:
    """Some models lack an option (transformer models have no attention slicing)."""
    function = getattr(obj, method, None)
    if function is None:
        return
    try:
        function()
    except (AttributeError, NotImplementedError, ValueError):
        pass
