"""Prompts encoded for a tiny SD 1.x pipeline: plain prompts as before, weights, long prompts, BREAK."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine.run.prompts import WEIGHTS_IGNORED, prompt_arguments


@pytest.fixture(scope="module")
def pipe(tiny_sd_model: Path) -> Any:
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline.from_pretrained(str(tiny_sd_model), safety_checker=None)


def image(pipe: Any, **prompt: Any) -> np.ndarray:
    import torch

    result = pipe(**prompt, num_inference_steps=2, guidance_scale=7.5, height=32, width=32,
                  generator=torch.Generator("cpu").manual_seed(3), output_type="np")
    return np.asarray(result.images[0])


def test_a_plain_prompt_gives_the_pixels_of_the_text_path(pipe: Any) -> None:
    before = image(pipe, prompt="a red circle", negative_prompt="blue")
    after = image(pipe, **prompt_arguments(pipe, "a red circle", "blue", True))
    assert np.array_equal(before, after)


def test_a_weight_changes_the_image(pipe: Any) -> None:
    plain = image(pipe, **prompt_arguments(pipe, "red", "", True))
    weighted = image(pipe, **prompt_arguments(pipe, "(red:1.5)", "", True))
    assert np.abs(plain - weighted).max() > 1e-3


def test_a_long_prompt_is_chunked_not_truncated(pipe: Any) -> None:
    window = pipe.tokenizer.model_max_length  # 32: chunks of 30 tokens of this byte-level tokenizer
    words = "red, " * 16  # 80 characters, one token each
    arguments = prompt_arguments(pipe, words + "blue", "", True)
    assert arguments["prompt_embeds"].shape[1] == 3 * window
    assert arguments["negative_prompt_embeds"].shape == arguments["prompt_embeds"].shape
    other = prompt_arguments(pipe, words + "gold", "", True)
    assert not np.array_equal(image(pipe, **arguments), image(pipe, **other))


def test_break_starts_a_new_chunk(pipe: Any) -> None:
    window = pipe.tokenizer.model_max_length
    assert prompt_arguments(pipe, "red BREAK blue", "", True)["prompt_embeds"].shape[1] == 2 * window
    assert prompt_arguments(pipe, "red blue", "", True)["prompt_embeds"].shape[1] == window


def test_lora_tags_never_reach_the_encoder(pipe: Any) -> None:
    tagged = prompt_arguments(pipe, "a red circle <lora:ink:0.5>", "", True)
    plain = prompt_arguments(pipe, "a red circle", "", True)
    assert np.array_equal(tagged["prompt_embeds"].numpy(), plain["prompt_embeds"].numpy())


def test_a_multi_vector_embedding_token_expands_to_its_vectors(pipe: Any) -> None:
    import torch

    width = pipe.text_encoder.config.hidden_size
    torch.manual_seed(1)
    pipe.load_textual_inversion({"<shape-style>": torch.randn(3, width)}, token="<shape-style>")
    try:
        ids = pipe.tokenizer(pipe.maybe_convert_prompt("<shape-style>", pipe.tokenizer))["input_ids"]
        assert len(ids) == 3 + 2
        weighted = prompt_arguments(pipe, "(<shape-style>:1.2) circle", "", True)["prompt_embeds"]
        unweighted = prompt_arguments(pipe, "(circle:1.2)", "", True)["prompt_embeds"]
        assert not torch.equal(weighted, unweighted)
    finally:
        pipe.unload_textual_inversion()


def test_a_text_only_pipeline_gets_plain_text_and_a_notice() -> None:
    class TextOnly:
        pass

    notices: list[str] = []
    arguments = prompt_arguments(TextOnly(), "a [red:blue:0.5] (circle:1.3)", "", True, notices)
    assert arguments == {"prompt": "a red circle", "negative_prompt": None}
    assert notices == [WEIGHTS_IGNORED.format(name="TextOnly")]


def test_a_warmed_prompt_is_found_in_the_cache(pipe: Any) -> None:
    from studio.engine.run.prompts import warm_prompt_cache

    assert warm_prompt_cache(pipe, "a [red:blue:0.5] circle", "", True, 4) == 2  # two texts over 4 steps
    cache = pipe._studio_prompt_embeddings
    first = prompt_arguments(pipe, "a [red:blue:0.5] circle", "", True, steps=4)
    assert any(first is kept for kept in cache.values())
    assert np.array_equal(first["prompt_embeds"].numpy(),
                          prompt_arguments(pipe, "a red circle", "", True)["prompt_embeds"].numpy())


def unet_conditionings(pipe: Any, prompt: str, steps: int, guidance: float = 7.5) -> tuple[list[Any], list[int]]:
    """The text conditioning the UNet received at each step of a run with prompt editing."""
    import torch

    from studio.engine.run.prompts import PromptSchedule

    seen: list[Any] = []
    hook = pipe.unet.register_forward_pre_hook(
        lambda _m, _a, kwargs: seen.append(kwargs["encoder_hidden_states"].clone()), with_kwargs=True)
    schedule = PromptSchedule(pipe, prompt, "", guidance > 1, 1)
    try:
        pipe(**prompt_arguments(pipe, prompt, "", guidance > 1, steps=steps), num_inference_steps=steps,
             guidance_scale=guidance, height=32, width=32, output_type="np",
             generator=torch.Generator("cpu").manual_seed(3),
             callback_on_step_end=lambda p, i, _t, _k: schedule.after_step(p, i))
    finally:
        hook.remove()
    return seen, schedule.switched_at


def guided(pipe: Any, prompt: str) -> Any:
    import torch

    arguments = prompt_arguments(pipe, prompt, "", True)
    return torch.cat([arguments["negative_prompt_embeds"], arguments["prompt_embeds"]])


def test_prompt_editing_switches_the_conditioning_at_its_step(pipe: Any) -> None:
    import torch

    seen, switched = unet_conditionings(pipe, "a [red:(blue:1.3):2] circle", 4)
    assert switched == [3]
    red, blue = guided(pipe, "a red circle"), guided(pipe, "a (blue:1.3) circle")
    assert [torch.equal(c, red) for c in seen] == [True, True, False, False]
    assert [torch.equal(c, blue) for c in seen] == [False, False, True, True]


def test_a_fraction_switches_at_that_share_of_the_steps(pipe: Any) -> None:
    _, switched = unet_conditionings(pipe, "[red::0.25] circle", 4)  # red for step 1 only
    assert switched == [2]


def test_alternation_changes_the_words_every_step(pipe: Any) -> None:
    import torch

    seen, switched = unet_conditionings(pipe, "a [red|blue] circle", 4)
    assert switched == [2, 3, 4]
    red, blue = guided(pipe, "a red circle"), guided(pipe, "a blue circle")
    assert [torch.equal(c, red) for c in seen] == [True, False, True, False]
    assert [torch.equal(c, blue) for c in seen] == [False, True, False, True]


def test_editing_without_guidance_keeps_the_unguided_batch(pipe: Any) -> None:
    seen, switched = unet_conditionings(pipe, "a [red:blue:1] circle", 3, guidance=1.0)
    assert switched == [2]
    assert [c.shape[0] for c in seen] == [1, 1, 1]
    assert np.array_equal(seen[1].numpy(), prompt_arguments(pipe, "a blue circle", "", False)["prompt_embeds"].numpy())


@pytest.fixture(scope="module")
def sdxl(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from diffusers import StableDiffusionXLPipeline

    from tests.tiny_families import build_tiny_sdxl

    folder = build_tiny_sdxl(tmp_path_factory.mktemp("sdxl"))
    return StableDiffusionXLPipeline.from_pretrained(str(folder))


def sdxl_image(pipe: Any, **prompt: Any) -> np.ndarray:
    import torch

    result = pipe(**prompt, num_inference_steps=2, guidance_scale=5.0, height=64, width=64,
                  generator=torch.Generator("cpu").manual_seed(3), output_type="np")
    return np.asarray(result.images[0])


def test_sdxl_plain_prompt_gives_the_pixels_of_the_text_path(sdxl: Any) -> None:
    before = sdxl_image(sdxl, prompt="a red circle", negative_prompt="blue")
    after = sdxl_image(sdxl, **prompt_arguments(sdxl, "a red circle", "blue", True))
    assert np.array_equal(before, after)


def test_sdxl_weights_use_both_encoders_and_the_pooled_vector(sdxl: Any) -> None:
    window = sdxl.tokenizer.model_max_length
    arguments = prompt_arguments(sdxl, "a (red:1.5) circle BREAK blue", "ugly", True)
    assert arguments["prompt_embeds"].shape == (1, 2 * window, 32 + 48)  # both encoders, two chunks
    assert arguments["negative_prompt_embeds"].shape == arguments["prompt_embeds"].shape
    assert arguments["pooled_prompt_embeds"].shape == (1, 48)  # from the second encoder
    assert arguments["negative_pooled_prompt_embeds"].shape == (1, 48)
    plain = sdxl_image(sdxl, **prompt_arguments(sdxl, "a red circle", "", True))
    weighted = sdxl_image(sdxl, **prompt_arguments(sdxl, "a (red:1.5) circle", "", True))
    assert np.abs(plain - weighted).max() > 1e-3


def test_sdxl_long_prompt_is_chunked_and_its_end_counts(sdxl: Any) -> None:
    window = sdxl.tokenizer.model_max_length
    words = "red, " * 16
    arguments = prompt_arguments(sdxl, words + "blue", "", True)
    assert arguments["prompt_embeds"].shape[1] == 3 * window
    assert not arguments["negative_prompt_embeds"].any()  # an empty negative is zeros, as in the pipeline
    other = prompt_arguments(sdxl, words + "gold", "", True)
    assert not np.array_equal(sdxl_image(sdxl, **arguments), sdxl_image(sdxl, **other))


def test_sdxl_editing_switches_the_pooled_vector_too(sdxl: Any) -> None:
    import torch

    from studio.engine.run.prompts import PromptSchedule

    pooled: list[Any] = []
    hook = sdxl.unet.register_forward_pre_hook(
        lambda _m, _a, kwargs: pooled.append(kwargs["added_cond_kwargs"]["text_embeds"].clone()), with_kwargs=True)
    prompt = "a [red:blue:1] circle"
    schedule = PromptSchedule(sdxl, prompt, "", True, 2)
    try:
        sdxl(**prompt_arguments(sdxl, prompt, "", True, steps=2), num_inference_steps=2, guidance_scale=5.0,
             height=64, width=64, output_type="np", num_images_per_prompt=2,
             callback_on_step_end=lambda p, i, _t, _k: schedule.after_step(p, i))
    finally:
        hook.remove()
    blue = prompt_arguments(sdxl, "a blue circle", "", True)["pooled_prompt_embeds"]
    assert schedule.switched_at == [2]
    assert pooled[1].shape == (4, 48)  # negative and positive, two images each
    assert torch.equal(pooled[1][2:], blue.repeat(2, 1)) and not torch.equal(pooled[0][2:], blue.repeat(2, 1))
