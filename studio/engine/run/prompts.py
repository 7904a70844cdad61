"""Prompt embeddings kept per pipeline, so pressing Generate again skips the text encoder."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

_KEPT = 8  # prompts per pipeline; each is a few hundred kilobytes at most
_ATTRIBUTE = "_studio_prompt_embeddings"


def prompt_arguments(pipe: Any, prompt: str, negative: str, guided: bool) -> dict[str, Any]:
    """Keyword arguments for `pipe(...)` that carry the prompt, as cached embeddings where the
    pipeline takes them (Stable Diffusion 1.x/2.x without offload), else as text."""
    plan = getattr(pipe, "studio_memory_plan", None)
    if type(pipe).__name__ != "StableDiffusionPipeline" or (plan is not None and plan.offload != "none"):
        return {"prompt": prompt, "negative_prompt": negative or None}
    cache: OrderedDict[tuple[str, str, bool], dict[str, Any]] = pipe.__dict__.setdefault(_ATTRIBUTE, OrderedDict())
    key = (prompt, negative, guided)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    import torch

    with torch.no_grad():
        positive, negative_embeds = pipe.encode_prompt(
            prompt, pipe.text_encoder.device, 1, guided, negative_prompt=negative or None
        )
    cache[key] = {"prompt_embeds": positive, "negative_prompt_embeds": negative_embeds}
    while len(cache) > _KEPT:
        cache.popitem(last=False)
    return cache[key]
