"""What differs between model families at run time: flow-matching x0 and packed latents.

SD 1.x, 2.x and SDXL denoise 4-channel latents with schedulers that report x0 themselves.
SD3 and Flux are flow-matching models with 16-channel latents; their Euler scheduler reports
no x0, and Flux packs each 2x2 patch of latents into one token.
"""

from __future__ import annotations

from typing import Any

# Each family's usual settings: steps, guidance and native size.
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "SD 1.x": {"steps": 25, "guidance": 7.5, "width": 512, "height": 512},
    "SD 2.x": {"steps": 25, "guidance": 7.5, "width": 768, "height": 768},
    "SDXL": {"steps": 30, "guidance": 6.0, "width": 1024, "height": 1024},
    "SD3": {"steps": 28, "guidance": 7.0, "width": 1024, "height": 1024},
    "Flux": {"steps": 28, "guidance": 3.5, "width": 1024, "height": 1024},
}


def suggested_defaults(family: str, name: str) -> dict[str, Any]:
    """The family's usual settings, changed for few-step models (Turbo, LCM, Lightning,
    Flux schnell) as their names say. A model's own studio.json defaults win over these."""
    from studio.engine.catalogue.checkpoints import defaults_from_name

    return {**FAMILY_DEFAULTS.get(family, {}), **defaults_from_name(name)}


def is_flow_matching(scheduler: Any) -> bool:
    return type(scheduler).__name__.startswith("FlowMatch")


def flow_matching_x0(scheduler: Any, model_output: Any, sample: Any, index: int) -> Any:
    """x0 = x_t - sigma_t * v for the flow-matching step at `index` (after `scheduler.step`
    ran, that is `scheduler.step_index - 1`)."""
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


def flow_matching_scheduler(base_config: Any) -> Any:
    """Flow-matching models run only with a flow-matching sampler: their own one."""
    import diffusers

    cls = getattr(diffusers, str(base_config["_class_name"]))
    return cls.from_config(base_config)


def initial_noise(
    pipe: Any,
    seeds: list[int],
    height: int,
    width: int,
    variation: tuple[list[int], float] | None = None,
) -> Any:
    """The starting latents of a UNet pipeline, drawn in fp32 on the CPU, one seed per image.

    Drawing them in the model's own dtype gives a different picture for the same seed in fp16
    or bf16 (half-precision sampling differs between torch builds), so a seed would not mean
    one picture across devices. `variation` (seeds, strength) blends in a second noise by
    spherical interpolation, as AUTOMATIC1111's variation seed does: strength 0 is the seed's
    own picture. None for pipelines whose latents are laid out otherwise.
    """
    import torch

    unet = getattr(pipe, "unet", None)
    scale = getattr(pipe, "vae_scale_factor", None)
    if unet is None or not scale:
        return None
    channels = int(getattr(getattr(pipe, "vae", None), "config", {}).get("latent_channels", unet.config.in_channels))
    shape = (1, channels, height // int(scale), width // int(scale))

    def draw(seed_list: list[int]) -> Any:
        return torch.cat([
            torch.randn(shape, generator=torch.Generator("cpu").manual_seed(s), dtype=torch.float32) for s in seed_list
        ])

    noise = draw(seeds)
    if variation is not None and variation[1] > 0:
        noise = slerp(noise, draw(variation[0]), variation[1])
    return noise.to(dtype=unet.dtype)  # the pipeline moves it to its device


def slerp(a: Any, b: Any, t: float) -> Any:
    """Spherical interpolation per image between two noises: keeps the noise's norm, where a
    straight blend would shrink it and wash the picture out."""
    import torch

    flat_a, flat_b = a.flatten(1), b.flatten(1)
    unit_a = flat_a / flat_a.norm(dim=1, keepdim=True)
    unit_b = flat_b / flat_b.norm(dim=1, keepdim=True)
    dot = (unit_a * unit_b).sum(1).clamp(-1.0, 1.0)
    omega = torch.acos(dot)
    sin = torch.sin(omega)
    near = sin.abs() < 1e-6  # nearly parallel: the straight blend is the same and stable
    safe = torch.where(near, torch.ones_like(sin), sin)
    wa = torch.where(near, 1.0 - t, torch.sin((1.0 - t) * omega) / safe)
    wb = torch.where(near, torch.full_like(sin, t), torch.sin(t * omega) / safe)
    return (wa[:, None] * flat_a + wb[:, None] * flat_b).reshape(a.shape)
