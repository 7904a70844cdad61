"""Weighted and long prompts encoded with compel for Stable Diffusion 1.x/2.x pipelines.

compel does the weighting (a token's vector pushed away from the empty prompt's by its weight;
below 1, blended toward the prompt without it) and the long prompts (chunks of the encoder's
window less BOS/EOS, encoded one by one and concatenated along the sequence). Studio's parser
gives it fragments and weights directly, never compel's own syntax, and each BREAK segment is
a compel prompt of its own, so BREAK starts a new chunk.
"""

from __future__ import annotations

from typing import Any

from studio.engine.prompting.syntax import ParsedPrompt, Segment

SCHEDULE_NOT_APPLIED = ("Prompt editing and alternation ([from:to:when], [a|b]) do not switch during "
                        "the run yet; the text of the first step was used throughout.")


def needs_compel(pipe: Any, parsed: ParsedPrompt) -> bool:
    """Whether `parsed` needs more than the pipeline's own encoder: weights, BREAK, edits, or
    more tokens than one window."""
    if parsed.has_syntax:
        return True
    text = "".join(f.text for f in parsed.at_step(1, 1)[0])
    window = int(pipe.tokenizer.model_max_length)
    return len(pipe.tokenizer(text, truncation=False)["input_ids"]) > window


def plain_text_of(parsed: ParsedPrompt) -> str:
    """The text of a prompt without syntax, escapes resolved and LoRA tags taken out."""
    return "".join(f.text for segment in parsed.at_step(1, 1) for f in segment)


def encode_weighted(pipe: Any, prompt: ParsedPrompt, negative: ParsedPrompt, device: Any) -> tuple[Any, Any]:
    """(prompt_embeds, negative_prompt_embeds) for a StableDiffusionPipeline, padded to the
    same length with empty-prompt chunks."""
    from compel import Compel, SplitLongTextMode
    from compel.prompt_parser import Conjunction, FlattenedPrompt

    compel = Compel(
        tokenizer=pipe.tokenizer,
        text_encoder=pipe.text_encoder,
        truncate_long_prompts=False,
        # a chunk ends at its last comma or full stop, as AUTOMATIC1111 prefers
        split_long_text_mode=SplitLongTextMode.PHRASES,
        device=device,
    )

    def encode(parsed: ParsedPrompt) -> Any:
        segments = [_expanded(pipe, s) for s in parsed.at_step(1, 10_000)]
        prompts = [FlattenedPrompt([(f[0], f[1]) for f in s] or [("", 1.0)]) for s in segments]
        conditioning, _ = compel.build_conditioning_tensor_for_conjunction(Conjunction(prompts))
        return conditioning

    positive, negative_embeds = compel.pad_conditioning_tensors_to_same_length([encode(prompt), encode(negative)])
    return positive, negative_embeds


def _expanded(pipe: Any, segment: Segment) -> list[tuple[str, float]]:
    """Fragments with multi-vector textual-inversion tokens spelled out, as the pipeline's own
    `maybe_convert_prompt` does for plain prompts."""
    convert = getattr(pipe, "maybe_convert_prompt", None)
    return [(convert(f.text, pipe.tokenizer) if convert else f.text, float(f.weight)) for f in segment]
