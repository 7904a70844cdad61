"""LoRAs and embeddings through whole runs of the engine on a tiny SD model: tags change the
picture, weight 0 and no tag give the base pixels exactly, weights switch without reloading,
both file layouts agree, and every file that cannot be used says why."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.loras.apply import loaded_adapters
from studio.engine.run.engine import Engine
from studio.engine.run.events import Failed, Finished
from studio.engine.run.request import GenerationRequest
from studio.library.metadata.a1111 import format_infotext, parse_infotext
from tests.tiny_loras import (
    embedding_width,
    kohya_metadata,
    write_diffusers_lora,
    write_embedding,
    write_kohya_lora,
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, tiny_sd_model: Path) -> StudioPaths:
    paths = StudioPaths.under(tmp_path_factory.mktemp("home"))
    loras = paths.models_dir / "loras"
    write_diffusers_lora(loras / "ink.safetensors", tiny_sd_model, seed=1, scale=0.3)
    write_kohya_lora(loras / "styles" / "ink-kohya.safetensors", tiny_sd_model, seed=1, scale=0.3)
    write_diffusers_lora(loras / "glow.safetensors", tiny_sd_model, seed=2, scale=0.3)
    shutil.copy(loras / "ink.safetensors", loras / "ink-twin.safetensors")
    write_embedding(paths.models_dir / "embeddings" / "velvetstyle.safetensors",
                    width=embedding_width(tiny_sd_model), vectors=2, seed=3)
    return paths


@pytest.fixture(scope="module")
def engine(home: StudioPaths) -> Engine:
    return Engine(ModelRegistry(home), device="cpu")


def run(engine: Engine, model: Path, prompt: str, **changes: object) -> Finished | Failed:
    request = GenerationRequest(prompt, seed=5, steps=3, width=64, height=64, model=str(model)).replace(**changes)
    outcome = engine.generate(request, lambda _e: None)
    assert isinstance(outcome, Finished | Failed), outcome
    return outcome


def pixels(engine: Engine, model: Path, prompt: str, **changes: object) -> np.ndarray:
    outcome = run(engine, model, prompt, **changes)
    assert isinstance(outcome, Finished), outcome.message if isinstance(outcome, Failed) else outcome
    return np.asarray(outcome.images[0]).astype(np.int16)


def test_a_lora_changes_the_picture_and_leaves_no_trace(engine: Engine, tiny_sd_model: Path) -> None:
    base = pixels(engine, tiny_sd_model, "a red circle")
    inked = pixels(engine, tiny_sd_model, "a red circle <lora:ink:1>")
    assert np.abs(inked - base).max() > 10
    # the tag is not part of the text the encoder reads: moving it changes nothing
    assert np.array_equal(pixels(engine, tiny_sd_model, "<lora:ink:1> a red circle"), inked)
    # after a LoRA run, a run without LoRAs gives exactly the pixels it gave before any was loaded
    assert np.array_equal(pixels(engine, tiny_sd_model, "a red circle"), base)
    assert np.array_equal(pixels(engine, tiny_sd_model, "a red circle <lora:ink:0>"), base)


def test_a_weight_change_switches_without_reloading(engine: Engine, tiny_sd_model: Path) -> None:
    full = pixels(engine, tiny_sd_model, "a red circle <lora:ink:1>")
    held = loaded_adapters(engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model))))
    half = pixels(engine, tiny_sd_model, "a red circle <lora:ink:0.5>")
    assert loaded_adapters(engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))) == held
    assert not np.array_equal(half, full)
    assert np.array_equal(pixels(engine, tiny_sd_model, "a red circle <lora:ink:1>"), full)


def test_two_loras_blend(engine: Engine, tiny_sd_model: Path) -> None:
    ink = pixels(engine, tiny_sd_model, "a red circle <lora:ink:1>")
    glow = pixels(engine, tiny_sd_model, "a red circle <lora:glow:1>")
    both = pixels(engine, tiny_sd_model, "a red circle <lora:ink:1> <lora:glow:1>")
    assert not np.array_equal(both, ink) and not np.array_equal(both, glow)
    # each layer's change is linear in the weight: two copies at half weight are one at full
    twins = pixels(engine, tiny_sd_model, "a red circle <lora:ink:0.5> <lora:ink-twin:0.5>")
    assert np.abs(twins - ink).max() <= 1


def test_the_kohya_layout_gives_the_picture_of_the_diffusers_layout(engine: Engine, tiny_sd_model: Path) -> None:
    diffusers_layout = pixels(engine, tiny_sd_model, "a red circle <lora:ink:0.8>")
    kohya_layout = pixels(engine, tiny_sd_model, "a red circle <lora:ink-kohya:0.8>")
    assert np.abs(kohya_layout - diffusers_layout).max() <= 1


def test_the_infotext_keeps_the_tags_and_adds_lora_hashes(engine: Engine, tiny_sd_model: Path,
                                                        home: StudioPaths) -> None:
    outcome = run(engine, tiny_sd_model, "a red circle <lora:ink:0.7>, velvetstyle")
    assert isinstance(outcome, Finished)
    file = home.models_dir / "loras" / "ink.safetensors"
    data = file.read_bytes()
    expected = hashlib.sha256(data[8 + int.from_bytes(data[:8], "little"):]).hexdigest()[:12]
    lora = next(a for a in outcome.request.addons if a.kind == "lora")
    assert (lora.name, lora.short_hash, lora.weight, Path(lora.file)) == ("ink", expected, 0.7, file)
    embedding_file = home.models_dir / "embeddings" / "velvetstyle.safetensors"
    text = format_infotext(outcome.request, "test")
    assert text.startswith("a red circle <lora:ink:0.7>, velvetstyle\n")
    assert f'Lora hashes: "ink: {expected}"' in text
    assert f'TI hashes: "velvetstyle: {hashlib.sha256(embedding_file.read_bytes()).hexdigest()[:12]}"' in text
    read = parse_infotext(text)
    assert read.request is not None
    assert [(a.kind, a.name, a.short_hash) for a in read.request.addons if a.kind == "lora"] == [
        ("lora", "ink", expected)]


def test_an_embedding_token_resolves_to_its_vectors(engine: Engine, tiny_sd_model: Path, home: StudioPaths) -> None:
    from safetensors.torch import load_file

    plain = pixels(engine, tiny_sd_model, "a circle")
    styled = pixels(engine, tiny_sd_model, "a circle velvetstyle")
    assert not np.array_equal(plain, styled)
    pipe = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    vectors = load_file(str(home.models_dir / "embeddings" / "velvetstyle.safetensors"))["emb_params"]
    ids = pipe.tokenizer.convert_tokens_to_ids(["velvetstyle", "velvetstyle_1"])
    table = pipe.text_encoder.get_input_embeddings().weight.detach()
    assert np.allclose(table[ids].numpy(), vectors.numpy())


def test_a_missing_lora_names_itself_and_the_folder(engine: Engine, tiny_sd_model: Path, home: StudioPaths) -> None:
    outcome = run(engine, tiny_sd_model, "a red circle <lora:nowhere:0.7>")
    assert isinstance(outcome, Failed)
    assert "nowhere" in outcome.message and str(home.models_dir / "loras") in outcome.message
    assert "Traceback" not in outcome.message


def test_a_damaged_lora_file_gets_a_reason(engine: Engine, tiny_sd_model: Path, home: StudioPaths) -> None:
    broken = home.models_dir / "loras" / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    outcome = run(engine, tiny_sd_model, "a red circle <lora:broken:1>")
    assert isinstance(outcome, Failed)
    assert "“broken”" in outcome.message and "not a safetensors file" in outcome.message
    assert "Error" not in outcome.message and "Traceback" not in outcome.message
    # and the engine is fine afterwards
    assert isinstance(run(engine, tiny_sd_model, "a red circle <lora:ink:1>"), Finished)


def test_a_lora_that_only_partly_fits_says_how_much_applied(engine: Engine, tiny_sd_model: Path,
                                                           home: StudioPaths) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    state = load_file(str(home.models_dir / "loras" / "glow.safetensors"))
    extra = {}
    for key, tensor in state.items():
        if key.startswith("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q."):
            extra[key.replace("down_blocks.1", "down_blocks.7")] = torch.clone(tensor)
    save_file({**state, **extra}, str(home.models_dir / "loras" / "oversized.safetensors"))
    outcome = run(engine, tiny_sd_model, "a red circle <lora:oversized:1>")
    assert isinstance(outcome, Finished)
    modules = {k.rsplit(".lora_", 1)[0] for k in {**state, **extra}}
    notice = next(n for n in outcome.notices if "oversized" in n)
    assert f"of its {len(modules)} layers" in notice


def test_a_lora_for_nothing_of_this_model_is_refused(engine: Engine, tiny_sd_model: Path, home: StudioPaths) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({"lora_unet_middle_block_9_proj_in.lora_down.weight": torch.ones(4, 8),
               "lora_unet_middle_block_9_proj_in.lora_up.weight": torch.ones(8, 4)},
              str(home.models_dir / "loras" / "alien.safetensors"))
    outcome = run(engine, tiny_sd_model, "a red circle <lora:alien:1>")
    assert isinstance(outcome, Failed) and "alien" in outcome.message


def test_a_pickle_lora_is_not_opened_without_consent(engine: Engine, tiny_sd_model: Path, home: StudioPaths) -> None:
    shutil.copy(home.models_dir / "loras" / "ink.safetensors", home.models_dir / "loras" / "pickled.ckpt")
    outcome = run(engine, tiny_sd_model, "a red circle <lora:pickled:1>")
    assert isinstance(outcome, Failed) and "pickle" in outcome.message


def test_a_bad_weight_is_a_problem_with_the_prompt(engine: Engine, tiny_sd_model: Path) -> None:
    outcome = run(engine, tiny_sd_model, "a red circle <lora:ink:lots>")
    assert isinstance(outcome, Failed) and "not a number" in outcome.message


@pytest.fixture(scope="module")
def sdxl_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[StudioPaths, Path]:
    from tests.tiny_families import build_tiny_sdxl

    paths = StudioPaths.under(tmp_path_factory.mktemp("sdxl-home"))
    model = build_tiny_sdxl(paths.models_dir / "tiny-sdxl")
    write_diffusers_lora(paths.models_dir / "loras" / "xl-ink.safetensors", model, seed=4, scale=0.3)
    write_kohya_lora(paths.models_dir / "loras" / "xl-ink-kohya.safetensors", model, seed=4, scale=0.3)
    write_diffusers_lora(paths.models_dir / "loras" / "for-sd15.safetensors", model, seed=4,
                         metadata=kohya_metadata({"ink": 3}, base="sd_v1"))
    from tests.tiny_loras import _components

    _, first, second = _components(model)
    write_embedding(paths.models_dir / "embeddings" / "xlvelvet.safetensors", seed=5,
                    sdxl_widths=(int(first.config.hidden_size), int(second.config.hidden_size)))
    write_embedding(paths.models_dir / "embeddings" / "onlyone.safetensors", seed=5,
                    width=int(first.config.hidden_size))
    return paths, model


def test_sdxl_takes_loras_on_both_text_encoders_in_both_layouts(sdxl_home: tuple[StudioPaths, Path]) -> None:
    paths, model = sdxl_home
    engine = Engine(ModelRegistry(paths), device="cpu")
    base = pixels(engine, model, "a red circle")
    diffusers_layout = pixels(engine, model, "a red circle <lora:xl-ink:1>")
    kohya_layout = pixels(engine, model, "a red circle <lora:xl-ink-kohya:1>")
    assert np.abs(diffusers_layout - base).max() > 10
    assert np.abs(kohya_layout - diffusers_layout).max() <= 1
    pipe = engine.pipeline_for(engine.registry.resolve(str(model)))
    assert {"text_encoder", "text_encoder_2", "unet"} <= set(pipe.get_list_adapters())
    assert np.array_equal(pixels(engine, model, "a red circle"), base)
    # an SDXL embedding carries vectors for both encoders; one made for SD 1.x is refused in words
    assert not np.array_equal(pixels(engine, model, "a red circle, xlvelvet"), base)
    refused = run(engine, model, "a red circle, onlyone")
    assert isinstance(refused, Failed) and "both" in refused.message
    # a LoRA whose training metadata names another family is refused with both families named
    other = run(engine, model, "a red circle <lora:for-sd15:1>")
    assert isinstance(other, Failed) and "SD 1.x" in other.message and "SDXL" in other.message


def test_fused_loras_give_the_unfused_picture_and_unfuse_exactly(home: StudioPaths, tiny_sd_model: Path) -> None:
    plain_engine = Engine(ModelRegistry(home), device="cpu")
    fused_engine = Engine(ModelRegistry(home), device="cpu", fuse_loras=True)
    base = pixels(fused_engine, tiny_sd_model, "a red circle")
    pixels(fused_engine, tiny_sd_model, "a red circle <lora:ink:0.8>")
    prompt = "a red circle <lora:ink:0.8> <lora:glow:0.4>"  # a new file joins while one is fused
    fused = pixels(fused_engine, tiny_sd_model, prompt)
    assert np.abs(fused - pixels(plain_engine, tiny_sd_model, prompt)).max() <= 1
    assert np.abs(fused - base).max() > 10
    # a weight change re-fuses from the kept base weights; no LoRA restores them exactly
    assert not np.array_equal(pixels(fused_engine, tiny_sd_model, "a red circle <lora:ink:0.3>"), fused)
    assert np.array_equal(pixels(fused_engine, tiny_sd_model, "a red circle"), base)
