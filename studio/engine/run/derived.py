"""Image-to-image and inpainting pipelines made from a loaded text-to-image one.

`from_pipe` builds them around the same modules, so the weights are in memory once; each is
kept beside the pipeline it came from and made again only when that one is reloaded.
"""

from __future__ import annotations

from typing import Any

_ATTRIBUTE = "_studio_derived_pipelines"


def derived_pipeline(base: Any, mode: str) -> Any:
    """The pipeline for `mode` ("text", "image" or "inpaint") sharing `base`'s weights."""
    if mode == "text":
        return base
    kept: dict[str, Any] = base.__dict__.setdefault(_ATTRIBUTE, {})
    pipe = kept.get(mode)
    if pipe is None:
        import diffusers

        maker = (diffusers.AutoPipelineForImage2Image if mode == "image"
                 else diffusers.AutoPipelineForInpainting)
        pipe = maker.from_pipe(base)
        plan = getattr(base, "studio_memory_plan", None)
        if plan is not None:
            pipe.studio_memory_plan = plan
        pipe.set_progress_bar_config(disable=True)
        kept[mode] = pipe
    return pipe


def shares_weights(a: Any, b: Any) -> bool:
    """True when every parameter of `a`'s denoiser, VAE and text encoder is the very same
    storage in `b` (nothing was copied)."""
    for name in ("unet", "transformer", "vae", "text_encoder"):
        first, second = getattr(a, name, None), getattr(b, name, None)
        if first is None and second is None:
            continue
        if first is None or second is None:
            return False
        left = [p.data_ptr() for p in first.parameters()]
        right = [p.data_ptr() for p in second.parameters()]
        if left != right:
            return False
    return True
