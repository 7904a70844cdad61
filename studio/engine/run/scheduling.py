"""Building diffusers schedulers from Studio's friendly names (imports diffusers)."""

from __future__ import annotations

from typing import Any

from studio.engine.run.request import FieldProblem, InvalidRequest
from studio.engine.run.schedulers import FLOW_MATCHING, spec


def build_scheduler(name: str, config: Any) -> Any:
    """A scheduler named `name`, built on a model's own scheduler config.

    The model's training schedule (betas, prediction type, spacing, zero terminal SNR)
    is kept; only the sampler changes.
    """
    import diffusers

    if str(config.get("_class_name", "")).startswith("FlowMatch"):
        from studio.engine.run.families import flow_matching_scheduler

        return flow_matching_scheduler(config)  # flow-matching models need their own sampler
    if name == FLOW_MATCHING.name:
        raise InvalidRequest([FieldProblem(
            "scheduler",
            "The flow-matching sampler works only with flow-matching models (SD3, Flux). "
            "Choose another sampler for this model.",
        )])
    s = spec(name)
    options = dict(s.options)
    if "clip_sample" not in config:
        options["clip_sample"] = False  # DDIM's default clamps latents to +-1 and ruins images
    cls = getattr(diffusers, s.diffusers_class)
    return cls.from_config(config, **options)
