"""Prompt embeddings kept per pipeline, so pressing Generate again skips the text encoder, and
switched during a run where prompt editing or alternation changes the text."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from studio.engine.prompting.conditioning import Rendered, embedding_kind, encode
from studio.engine.prompting.syntax import ParsedPrompt, parse_prompt

_KEPT = 8  # renderings per pipeline; each is a few hundred kilobytes at most
_ATTRIBUTE = "_studio_prompt_embeddings"
_UNKNOWN_STEPS = 10_000  # so that an edit at a fraction of the steps has not switched yet
WEIGHTS_IGNORED = ("Weights, prompt editing and BREAK are ignored for this model ({name}): it reads "
                   "the prompt as plain text.")


def prompt_arguments(
    pipe: Any, prompt: str, negative: str, guided: bool, notices: list[str] | None = None,
    steps: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `pipe(...)` that carry the prompt of the first of `steps` steps, as
    cached embeddings where the pipeline takes them (SD 1.x/2.x and SDXL without offload), else
    as text. LoRA tags are taken out of the text; AUTOMATIC1111's syntax is applied where the
    pipeline takes embeddings, and `notices` gets a line where it cannot be."""
    parsed, parsed_negative = parse_prompt(prompt), parse_prompt(negative)
    if embedding_kind(pipe) is None:
        if parsed.has_syntax or parsed_negative.has_syntax:
            _note(notices, WEIGHTS_IGNORED.format(name=type(pipe).__name__))
        return {"prompt": parsed.plain_text(), "negative_prompt": parsed_negative.plain_text() or None}
    total = steps or _UNKNOWN_STEPS
    return _embeddings(pipe, parsed.at_step(1, total), parsed_negative.at_step(1, total), guided)


def warm_prompt_cache(pipe: Any, prompt: str, negative: str, guided: bool, steps: int) -> int:
    """Encodes ahead of a run every text the prompt takes over `steps` steps, so the run itself
    finds them cached; safe to call while the artist types. Returns how many texts were
    encoded (0 for a pipeline that reads plain text)."""
    if embedding_kind(pipe) is None:
        return 0
    renderings = _stretches(parse_prompt(prompt), parse_prompt(negative), steps)
    for positive, negative_rendered in dict.fromkeys(r for _, r in renderings):
        _embeddings(pipe, positive, negative_rendered, guided)
    return len(renderings)


class PromptSchedule:
    """Switches the conditioning at the steps where prompt editing (`[from:to:when]`) or
    alternation (`[a|b]`) changes the text, from a pipeline's `callback_on_step_end`."""

    def __init__(self, pipe: Any, prompt: str, negative: str, guided: bool, batch: int) -> None:
        self._pipe = pipe
        self._parsed = parse_prompt(prompt)
        self._negative = parse_prompt(negative)
        self._guided = guided
        self._batch = batch
        self.active = embedding_kind(pipe) is not None and (
            self._parsed.is_scheduled or self._negative.is_scheduled)
        self.switched_at: list[int] = []  # 1-based steps whose conditioning was switched to

    def after_step(self, pipe: Any, index: int) -> dict[str, Any]:
        """Tensors to hand back to the pipeline after step `index` (0-based), for the next step;
        empty where the text does not change there."""
        steps = int(getattr(pipe, "num_timesteps", 0) or 0)
        following = index + 2
        if not self.active or following > steps:
            return {}
        before = self._rendering(following - 1, steps)
        after = self._rendering(following, steps)
        if after == before:
            return {}
        self.switched_at.append(following)
        arguments = _embeddings(self._pipe, after[0], after[1], self._guided)
        return _loop_tensors(pipe, arguments, self._batch)

    def _rendering(self, step: int, steps: int) -> tuple[Rendered, Rendered]:
        return self._parsed.at_step(step, steps), self._negative.at_step(step, steps)


def _loop_tensors(pipe: Any, arguments: dict[str, Any], batch: int) -> dict[str, Any]:
    """The embeddings as the denoising loop holds them: repeated per image, and with the negative
    half first where classifier-free guidance concatenates them."""
    import torch

    def joined(positive: Any, negative: Any) -> Any:
        positive = positive.repeat_interleave(batch, dim=0)
        if not getattr(pipe, "do_classifier_free_guidance", False):
            return positive
        return torch.cat([negative.repeat_interleave(batch, dim=0), positive])

    tensors = {"prompt_embeds": joined(arguments["prompt_embeds"], arguments["negative_prompt_embeds"])}
    if "pooled_prompt_embeds" in arguments:
        tensors["add_text_embeds"] = joined(arguments["pooled_prompt_embeds"],
                                            arguments["negative_pooled_prompt_embeds"])
    return tensors


def _stretches(parsed: ParsedPrompt, negative: ParsedPrompt, steps: int) -> list[tuple[int, tuple[Rendered, Rendered]]]:
    """(last step, texts) for each stretch of steps where neither prompt changes."""
    result: list[tuple[int, tuple[Rendered, Rendered]]] = []
    for step in range(1, max(1, steps) + 1):
        rendering = (parsed.at_step(step, steps), negative.at_step(step, steps))
        if result and result[-1][1] == rendering:
            result[-1] = (step, rendering)
        else:
            result.append((step, rendering))
    return result


def _embeddings(pipe: Any, positive: Rendered, negative: Rendered, guided: bool) -> dict[str, Any]:
    cache: OrderedDict[tuple[Rendered, Rendered, bool, Any], dict[str, Any]] = pipe.__dict__.setdefault(
        _ATTRIBUTE, OrderedDict())
    key = (positive, negative, guided, _text_state(pipe))
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    import torch

    with torch.no_grad():
        cache[key] = encode(pipe, positive, negative, guided)
    while len(cache) > _KEPT:
        cache.popitem(last=False)
    return cache[key]


def _text_state(pipe: Any) -> tuple[Any, ...]:
    """What besides the text decides the embeddings: the LoRAs on the text encoders and their
    weights, and the embedding tokens the tokenizer knows."""
    from studio.engine.loras.apply import text_adapter_state
    from studio.engine.loras.embeddings import loaded_tokens

    return text_adapter_state(pipe), loaded_tokens(pipe)


def _note(notices: list[str] | None, line: str) -> None:
    if notices is not None and line not in notices:
        notices.append(line)
