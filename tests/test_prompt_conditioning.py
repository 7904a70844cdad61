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
