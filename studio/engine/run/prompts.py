"""Prompt embeddings kept per pipeline, so pressing Generate again skips the text encoder."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from studio.engine.prompting.conditioning import (
    SCHEDULE_NOT_APPLIED,
    encode_weighted,
    needs_compel,
    plain_text_of,
)
from studio.engine.prompting.syntax import parse_prompt

_KEPT = 8  # prompts per pipeline; each is a few hundred kilobytes at most
_ATTRIBUTE = "_studio_prompt_embeddings"
WEIGHTS_IGNORED = ("Weights, prompt editing and BREAK are ignored for this model ({name}): it reads "
                   "the prompt as plain text.")


def prompt_arguments(
    pipe: Any, prompt: str, negative: str, guided: bool, notices: list[str] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `pipe(...)` that carry the prompt, as cached embeddings where the
    pipeline takes them (Stable Diffusion 1.x/2.x without offload), else as text. Also the
    entry point to call ahead of a run to warm the cache. LoRA tags are taken out of the text;
    AUTOMATIC1111's syntax is applied where the pipeline takes embeddings, and `notices` gets a
    line where it cannot be."""
    notes = notices if notices is not None else []
    parsed, parsed_negative = parse_prompt(prompt), parse_prompt(negative)
    text, negative_text = plain_text_of(parsed), plain_text_of(parsed_negative)
    plan = getattr(pipe, "studio_memory_plan", None)
    embeddable = type(pipe).__name__ == "StableDiffusionPipeline" and (plan is None or plan.offload == "none")
    if not embeddable:
        if parsed.has_syntax or parsed_negative.has_syntax:
            _note(notes, WEIGHTS_IGNORED.format(name=type(pipe).__name__))
            text, negative_text = parsed.plain_text(), parsed_negative.plain_text()
        return {"prompt": text, "negative_prompt": negative_text or None}
    cache: OrderedDict[tuple[str, str, bool], dict[str, Any]] = pipe.__dict__.setdefault(_ATTRIBUTE, OrderedDict())
    key = (prompt, negative, guided)
    if parsed.is_scheduled or parsed_negative.is_scheduled:
        _note(notes, SCHEDULE_NOT_APPLIED)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    import torch

    device = pipe.text_encoder.device
    with torch.no_grad():
        if needs_compel(pipe, parsed) or needs_compel(pipe, parsed_negative):
            positive, negative_embeds = encode_weighted(pipe, parsed, parsed_negative, device)
        else:
            positive, negative_embeds = pipe.encode_prompt(
                text, device, 1, guided, negative_prompt=negative_text or None
            )
    cache[key] = {"prompt_embeds": positive, "negative_prompt_embeds": negative_embeds}
    while len(cache) > _KEPT:
        cache.popitem(last=False)
    return cache[key]


def _note(notices: list[str], line: str) -> None:
    if line not in notices:
        notices.append(line)
