"""A prompt's rendered text turned into the embeddings a Stable Diffusion 1.x/2.x or SDXL
pipeline takes, with compel doing the weighting and the long prompts.

compel does the weighting (a token's vector pushed away from the empty prompt's by its weight;
below 1, blended toward the prompt without it) and the long prompts (chunks of the encoder's
window less BOS/EOS, encoded one by one and concatenated along the sequence). Studio's parser
gives it fragments and weights directly, never compel's own syntax, and each BREAK segment is
a compel prompt of its own, so BREAK starts a new chunk. For SDXL Studio runs one compel per
text encoder, joins them along the feature axis and takes the pooled vector from the second,
as the pipeline's own `encode_prompt` does. A prompt without syntax that fits the window goes
through the pipeline's own `encode_prompt`, so its pixels are those of the text path.
"""

from __future__ import annotations

from typing import Any

from studio.engine.prompting.syntax import Segment

Rendered = tuple[Segment, ...]  # one step's text: segments split at BREAK
SD = "sd"
SDXL = "sdxl"
EMBEDDED_PIPELINES = {"StableDiffusionPipeline": SD, "StableDiffusionXLPipeline": SDXL}


def embedding_kind(pipe: Any) -> str | None:
    """SD or SDXL where `pipe` takes prompt embeddings Studio can build, else None (SD3, Flux,
    the demo model, and pipelines offloaded part by part, whose encoders are not resident)."""
    kind = EMBEDDED_PIPELINES.get(type(pipe).__name__)
    plan = getattr(pipe, "studio_memory_plan", None)
    return kind if plan is None or plan.offload == "none" else None


def rendered_text(rendered: Rendered) -> str:
    """The words of one step, BREAKs and weights dropped."""
    return "".join(f.text for segment in rendered for f in segment)


def encode(pipe: Any, positive: Rendered, negative: Rendered, guided: bool) -> dict[str, Any]:
    """Keyword arguments for `pipe(...)` carrying `positive` and `negative` as embeddings of
    the same length. Call under `torch.no_grad()`."""
    kind = embedding_kind(pipe)
    if kind is None:
        raise ValueError(f"{type(pipe).__name__} does not take Studio's prompt embeddings")
    device = pipe.text_encoder.device
    if not (_needs_compel(pipe, positive) or _needs_compel(pipe, negative)):
        return _encode_plain(pipe, kind, rendered_text(positive), rendered_text(negative), guided, device)
    if kind == SD:
        return _encode_sd(pipe, positive, negative, device)
    return _encode_sdxl(pipe, positive, negative, guided, device)


def _needs_compel(pipe: Any, rendered: Rendered) -> bool:
    """Weights, BREAK, or more tokens than one window."""
    if len(rendered) > 1 or any(f.weight != 1.0 for s in rendered for f in s):
        return True
    window = int(pipe.tokenizer.model_max_length)
    return len(pipe.tokenizer(rendered_text(rendered), truncation=False)["input_ids"]) > window


def _encode_plain(pipe: Any, kind: str, text: str, negative: str, guided: bool, device: Any) -> dict[str, Any]:
    if kind == SD:
        embeds, negative_embeds = pipe.encode_prompt(text, device, 1, guided, negative_prompt=negative or None)
        return {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds}
    embeds, negative_embeds, pooled, negative_pooled = pipe.encode_prompt(
        text, device=device, num_images_per_prompt=1, do_classifier_free_guidance=guided,
        negative_prompt=negative or None,
    )
    return {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds,
            "pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": negative_pooled}


def _compel(pipe: Any, tokenizer: Any, text_encoder: Any, device: Any, sdxl: bool) -> Any:
    from compel import Compel, ReturnedEmbeddingsType, SplitLongTextMode

    dtype = text_encoder.dtype
    return Compel(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        truncate_long_prompts=False,
        # a chunk ends at its last comma or full stop, as AUTOMATIC1111 prefers
        split_long_text_mode=SplitLongTextMode.PHRASES,
        # SDXL conditions on the penultimate layer, not normalised, as its pipeline does
        returned_embeddings_type=(ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED if sdxl
                                  else ReturnedEmbeddingsType.LAST_HIDDEN_STATES_NORMALIZED),
        dtype_for_device_getter=lambda _device: dtype,
        device=device,
    )


def _conditioning(pipe: Any, compel: Any, rendered: Rendered) -> Any:
    from compel.prompt_parser import Conjunction, FlattenedPrompt

    prompts = [FlattenedPrompt(_expanded(pipe, s) or [("", 1.0)]) for s in rendered]
    conditioning, _ = compel.build_conditioning_tensor_for_conjunction(Conjunction(prompts))
    return conditioning


def _encode_sd(pipe: Any, positive: Rendered, negative: Rendered, device: Any) -> dict[str, Any]:
    compel = _compel(pipe, pipe.tokenizer, pipe.text_encoder, device, sdxl=False)
    embeds, negative_embeds = compel.pad_conditioning_tensors_to_same_length(
        [_conditioning(pipe, compel, positive), _conditioning(pipe, compel, negative)])
    return {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds}


def _encode_sdxl(pipe: Any, positive: Rendered, negative: Rendered, guided: bool, device: Any) -> dict[str, Any]:
    import torch

    first = _compel(pipe, pipe.tokenizer, pipe.text_encoder, device, sdxl=True)
    second = _compel(pipe, pipe.tokenizer_2, pipe.text_encoder_2, device, sdxl=True)
    halves = []
    for compel in (first, second):
        halves.append(compel.pad_conditioning_tensors_to_same_length(
            [_conditioning(pipe, compel, positive), _conditioning(pipe, compel, negative)]))
    # the two tokenizers may chunk differently; each side is padded with its own empty chunks
    length = max(h[0].shape[1] for h in halves)
    for compel, half in zip((first, second), halves, strict=True):
        half[:] = [_pad(c, length, compel.conditioning_provider.empty_z) for c in half]
    embeds = torch.cat([halves[0][0], halves[1][0]], dim=-1)
    negative_embeds = torch.cat([halves[0][1], halves[1][1]], dim=-1)
    # AUTOMATIC1111 and compel take the pooled vector of the first window, unweighted
    provider = second.conditioning_provider
    pooled = provider.get_pooled_embeddings([_first_window_text(positive)], device=device)
    negative_pooled = provider.get_pooled_embeddings([_first_window_text(negative)], device=device)
    if guided and not rendered_text(negative).strip() and pipe.config.force_zeros_for_empty_prompt:
        # the pipeline's own rule for an empty negative prompt, kept so both paths agree
        negative_embeds, negative_pooled = torch.zeros_like(negative_embeds), torch.zeros_like(negative_pooled)
    return {"prompt_embeds": embeds, "negative_prompt_embeds": negative_embeds,
            "pooled_prompt_embeds": pooled, "negative_pooled_prompt_embeds": negative_pooled}


def _first_window_text(rendered: Rendered) -> str:
    return "".join(f.text for f in rendered[0]) if rendered else ""


def _pad(conditioning: Any, length: int, empty: Any) -> Any:
    import torch

    empty = empty if empty.dim() == 3 else empty.unsqueeze(0)
    while conditioning.shape[1] < length:
        conditioning = torch.cat([conditioning, empty.expand(conditioning.shape[0], -1, -1)], dim=1)
    return conditioning


def _expanded(pipe: Any, segment: Segment) -> list[tuple[str, float]]:
    """Fragments with multi-vector textual-inversion tokens spelled out, as the pipeline's own
    `maybe_convert_prompt` does for plain prompts."""
    convert = getattr(pipe, "maybe_convert_prompt", None)
    return [(convert(f.text, pipe.tokenizer) if convert else f.text, float(f.weight)) for f in segment]
