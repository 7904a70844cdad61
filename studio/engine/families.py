"""What differs between model families at run time: flow-matching x0 and packed latents.

SD 1.x, 2.x and SDXL denoise 4-channel latents with schedulers that report x0 themselves.
SD3 and Flux are flow-matching models with 16-channel latents; their Euler scheduler reports
no x0, and Flux packs each 2x2 patch of latents into one token.
"""

from __future__ import annotations

from typing import Any

FLOW_MATCHING_FAMILIES = ("SD3", "Flux")


def is_flow_matching(scheduler: Any) -> bool:
    return type(scheduler).__name__.startswith("FlowMatch")


def flow_matching_x0(scheduler: Any, model_output: Any, timestep: Any, sample: Any) -> Any:
    """x0 = x_t - sigma_t * v for a flow-matching step; call before `scheduler.step` runs
    (the step advances the scheduler's index)."""
    index = scheduler.step_index
    if index is None:
        index = scheduler.index_for_timestep(timestep)
    sigma = scheduler.sigmas[index].to(device=sample.device, dtype=sample.dtype)
    return sample - sigma * model_output


def unpack_latents(pipe: Any, latents: Any, height: int, width: int) -> Any:
    """BxCxHxW latents from what the pipeline denoises (Flux: B x tokens x 4C, packed)."""
    if latents.ndim == 3:
        unpack = getattr(pipe, "_unpack_latents", None)
        if unpack is None:
            raise ValueError(f"{type(pipe).__name__} has packed latents Studio cannot unpack.")
        return unpack(latents, height, width, pipe.vae_scale_factor)
    return latents


def to_vae_space(vae: Any, latents: Any) -> Any:
    """Denoiser-space latents as the VAE decodes them: divided by the scaling factor, plus the
    shift factor (SD3 and Flux have one; older families do not)."""
    scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
    shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)
    return latents / scale + shift


def flow_matching_scheduler(base_config: Any) -> Any:
    """Flow-matching models run only with a flow-matching sampler: their own one."""
    import diffusers

    cls = getattr(diffusers, str(base_config["_class_name"]))
    return cls.from_config(base_config)
