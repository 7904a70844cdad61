"""The LoRA and embedding library: real tiny LoRA files made with PEFT, real safetensors headers,
real hashes, the `studio loras` command."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import pytest

from studio.config.paths import StudioPaths
from studio.config.settings import Settings, load_settings, save_settings
from studio.engine.catalogue.checkpoints import PickleConsent
from studio.engine.loras.headers import UnreadableHeader, read_addon_header
from studio.engine.loras.library import (
    AddOn,
    AddOnLibrary,
    consent_problem,
    describe_addon,
    family_problem,
    find_addon,
    find_preview,
    search_addons,
)
from tests.tiny_loras import kohya_metadata, write_diffusers_lora, write_embedding, write_kohya_lora

TAGS = {"twintails": 30, "blue hair": 30, "miku": 12, "1girl": 5}


@pytest.fixture(scope="module")
def tiny_pipe(tiny_sd_model: Path) -> Any:
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd_model))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _library(paths: StudioPaths, settings: Settings | None = None) -> AddOnLibrary:
    return AddOnLibrary.for_studio(paths, settings)


def _by_name(addons: list[AddOn], name: str) -> AddOn:
    (found,) = [a for a in addons if a.name == name]
    return found


def _write_tensors(path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict[str, str] | None = None) -> Path:
    """A safetensors file with zero tensors of real models' shapes (a few kilobytes)."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path), metadata=metadata)
    return path


def _after_header_sha256(path: Path) -> str:
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    return hashlib.sha256(data[8 + length :]).hexdigest()


def test_kohya_and_diffusers_loras_listed_with_category_family_and_trigger_words(
    studio_paths: StudioPaths, tiny_pipe: Any
) -> None:
    loras = studio_paths.loras_dir
    metadata = kohya_metadata(TAGS, output_name="miku_v1")
    write_kohya_lora(loras / "characters" / "anime" / "Miku.safetensors", tiny_pipe, metadata=metadata)
    write_diffusers_lora(loras / "detail-xl.safetensors", tiny_pipe,
                         metadata={"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"})
    write_diffusers_lora(loras / "plain.safetensors", tiny_pipe)

    addons = _library(studio_paths).scan()

    miku = _by_name(addons, "Miku")
    assert (miku.kind, miku.category, miku.reference) == ("lora", "characters/anime", "characters/anime/Miku")
    assert miku.family == "SD 1.x"  # ss_base_model_version = sd_v1
    assert miku.trigger_words == ("twintails", "blue hair", "miku", "1girl")  # by count, ties as written
    assert miku.alias == "miku_v1"
    assert miku.usable and not miku.needs_consent
    assert miku.size == (loras / "characters" / "anime" / "Miku.safetensors").stat().st_size
    assert _by_name(addons, "detail-xl").family == "SDXL"  # modelspec.architecture
    # The tiny model's 32-wide layers match no real family, and the file carries no metadata.
    assert _by_name(addons, "plain").family == "unknown"
    assert _by_name(addons, "plain").trigger_words == ()


def test_trigger_words_are_summed_over_datasets_and_capped() -> None:
    from studio.engine.loras.triggers import training_words

    frequency = {"10_a": {"red": 1, "cat": 4}, "5_b": {"red": 9, " hat ": 2}, "bad": "not tags"}
    words = training_words({"ss_tag_frequency": json.dumps(frequency), "modelspec.trigger_phrase": "zzstyle"})
    assert words == ("zzstyle", "red", "cat", "hat")
    many = {"d": {f"tag{i}": 100 - i for i in range(40)}}
    assert training_words({"ss_tag_frequency": json.dumps(many)}) == tuple(f"tag{i}" for i in range(10))
    assert training_words({"ss_tag_frequency": "{not json"}) == ()


@pytest.mark.parametrize(
    ("shapes", "family"),
    [
        ({"lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight": (4, 768),
          "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k.lora_up.weight": (320, 4)},
         "SD 1.x"),
        ({"lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (4, 1024),
          "lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight": (1024, 4)}, "SD 2.x"),
        ({"unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": (4, 2048),
          "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight": (640, 4)}, "SDXL"),
        ({"lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight": (4, 8)}, "SDXL"),
        ({"text_encoder_2.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight": (4, 8)}, "SDXL"),
        ({"lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight": (4, 8)}, "Flux"),
        ({"transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": (4, 8)}, "Flux"),
        ({"transformer.transformer_blocks.0.attn.to_q.lora_A.weight": (4, 1536)}, "SD3"),
    ],
)
def test_lora_family_told_from_key_names_and_shapes(
    studio_paths: StudioPaths, shapes: dict[str, tuple[int, ...]], family: str
) -> None:
    path = _write_tensors(studio_paths.loras_dir / "shaped.safetensors", shapes)
    addon = describe_addon(path, "lora")
    assert (addon.kind, addon.family, addon.problem) == ("lora", family, "")


@pytest.mark.parametrize(
    ("shapes", "family"),
    [
        ({"emb_params": (2, 768)}, "SD 1.x"),
        ({"emb_params": (3, 1024)}, "SD 2.x"),
        ({"clip_l": (2, 768), "clip_g": (2, 1280)}, "SDXL"),
        ({"emb_params": (2, 32)}, "unknown"),
    ],
)
def test_embedding_family_told_from_vector_width(
    studio_paths: StudioPaths, shapes: dict[str, tuple[int, ...]], family: str
) -> None:
    _write_tensors(studio_paths.embeddings_dir / "style.safetensors", shapes)
    (addon,) = _library(studio_paths).scan()
    assert (addon.kind, addon.name, addon.family) == ("embedding", "style", family)


def test_metadata_family_wins_over_shapes_and_model_name_is_the_last_resort(studio_paths: StudioPaths) -> None:
    sd1_shapes = {"lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_v.lora_down.weight": (4, 768)}
    said = _write_tensors(studio_paths.loras_dir / "said.safetensors", sd1_shapes,
                          {"ss_base_model_version": "sdxl_base_v1-0"})
    assert describe_addon(said, "lora").family == "SDXL"
    named = _write_tensors(studio_paths.loras_dir / "named.safetensors", {"lora_te_x.lora_down.weight": (4, 8)},
                           {"ss_sd_model_name": "v2-1_768-ema-pruned.safetensors"})
    assert describe_addon(named, "lora").family == "SD 2.x"


def test_file_kind_follows_its_tensors_not_its_folder(studio_paths: StudioPaths, tiny_pipe: Any) -> None:
    write_embedding(studio_paths.loras_dir / "misplaced-embedding.safetensors", width=768)
    write_kohya_lora(studio_paths.embeddings_dir / "misplaced-lora.safetensors", tiny_pipe)
    _write_tensors(studio_paths.loras_dir / "model.safetensors",
                   {"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (8, 768)})
    addons = _library(studio_paths).scan()
    assert _by_name(addons, "misplaced-embedding").kind == "embedding"
    assert _by_name(addons, "misplaced-lora").kind == "lora"
    model = _by_name(addons, "model")
    assert "whole SD 1.x model" in model.problem and "models folder" in model.problem


def test_preview_beside_the_file(studio_paths: StudioPaths) -> None:
    folder = studio_paths.loras_dir
    shapes = {"lora_te_x.lora_down.weight": (4, 8)}
    for name in ("a", "b", "c", "d"):
        _write_tensors(folder / f"{name}.safetensors", shapes)
    (folder / "a.preview.png").write_bytes(b"p")
    (folder / "a.png").write_bytes(b"p")
    (folder / "b.png").write_bytes(b"p")
    (folder / "c.Preview.JPG").write_bytes(b"p")
    addons = _library(studio_paths).scan(with_hashes=False)
    assert _by_name(addons, "a").preview == folder / "a.preview.png"  # .preview first
    assert _by_name(addons, "b").preview == folder / "b.png"
    assert _by_name(addons, "c").preview == folder / "c.Preview.JPG"
    assert _by_name(addons, "d").preview is None
    assert find_preview(folder / "c.safetensors") == folder / "c.Preview.JPG"  # without a scan
    unhashed = _by_name(addons, "a")
    assert unhashed.short_hash == ""
    library = _library(studio_paths)
    assert library.hash_of(unhashed).short_hash == _after_header_sha256(folder / "a.safetensors")[:12]


def test_hashes_match_automatic1111_and_are_cached_by_size_and_time(
    studio_paths: StudioPaths, tiny_pipe: Any
) -> None:
    lora = write_kohya_lora(studio_paths.loras_dir / "k.safetensors", tiny_pipe, metadata=kohya_metadata(TAGS))
    embedding = write_embedding(studio_paths.embeddings_dir / "e.safetensors", width=32)
    addons = _library(studio_paths).scan()
    k, e = _by_name(addons, "k"), _by_name(addons, "e")
    # Lora hashes: sha256 of the bytes after the 8-byte length and the JSON header, 12 digits.
    assert k.sha256 == _after_header_sha256(lora)
    assert k.sha256 != hashlib.sha256(lora.read_bytes()).hexdigest()
    assert k.short_hash == k.sha256[:12] and len(k.short_hash) == 12
    # TI hashes: sha256 of the whole file.
    assert e.sha256 == hashlib.sha256(embedding.read_bytes()).hexdigest()
    assert e.short_hash == e.sha256[:12]

    # A fresh library reads the cache: a planted value shows that the file was not hashed again...
    cache = json.loads(studio_paths.addon_hashes_file.read_text())
    (key,) = [key for key in cache["entries"] if key.endswith("k.safetensors")]
    assert key.startswith("addnet:")
    cache["entries"][key]["sha256"] = "f" * 64
    studio_paths.addon_hashes_file.write_text(json.dumps(cache))
    assert _by_name(_library(studio_paths).scan(), "k").short_hash == "f" * 12
    # ...and a file that changed is hashed again.
    stat = lora.stat()
    os.utime(lora, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert _by_name(_library(studio_paths).scan(), "k").sha256 == _after_header_sha256(lora)


def test_search_by_name_category_and_trigger_word(studio_paths: StudioPaths) -> None:
    shapes = {"lora_te_x.lora_down.weight": (4, 8)}
    _write_tensors(studio_paths.loras_dir / "characters" / "Miku.safetensors", shapes, kohya_metadata(TAGS))
    _write_tensors(studio_paths.loras_dir / "styles" / "ink.safetensors", shapes,
                   kohya_metadata({"sumi-e": 3}, output_name="ink_wash"))
    _write_tensors(studio_paths.embeddings_dir / "bad-hands.safetensors", {"emb_params": (2, 768)})
    addons = _library(studio_paths).scan(with_hashes=False)

    assert [a.name for a in search_addons(addons, "BLUE hair")] == ["Miku"]
    assert [a.name for a in search_addons(addons, "styles")] == ["ink"]
    assert [a.name for a in search_addons(addons, "hands")] == ["bad-hands"]
    assert [a.name for a in search_addons(addons, "hands", kind="lora")] == []
    assert len(search_addons(addons, "")) == 3
    assert search_addons(addons, "miku nothing-like-this") == []

    assert find_addon(addons, "miku") == _by_name(addons, "Miku")
    assert find_addon(addons, "characters/MIKU") == _by_name(addons, "Miku")
    assert find_addon(addons, "ink_wash") == _by_name(addons, "ink")  # the name it was trained as
    assert find_addon(addons, "bad-hands") is None  # an embedding is not a LoRA
    assert find_addon(addons, "bad-hands", kind="embedding") == _by_name(addons, "bad-hands")
    assert find_addon(addons, "missing") is None


def test_same_name_in_two_categories_resolves_to_the_top_one_unless_the_category_is_given(
    studio_paths: StudioPaths,
) -> None:
    shapes = {"lora_te_x.lora_down.weight": (4, 8)}
    _write_tensors(studio_paths.loras_dir / "old" / "deep" / "style.safetensors", shapes)
    _write_tensors(studio_paths.loras_dir / "style.safetensors", shapes)
    addons = _library(studio_paths).scan(with_hashes=False)
    top = find_addon(addons, "style")
    assert top is not None and top.category == ""
    deep = find_addon(addons, "old/deep/style")
    assert deep is not None and deep.category == "old/deep"


def test_bad_files_are_listed_with_a_reason(studio_paths: StudioPaths, tiny_pipe: Any) -> None:
    folder = studio_paths.loras_dir
    folder.mkdir(parents=True)
    (folder / "garbage.safetensors").write_bytes(os.urandom(4096))
    (folder / "empty.safetensors").write_bytes(b"")
    (folder / "text.safetensors").write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"\0" * 100)
    good = write_kohya_lora(folder / "cut.safetensors", tiny_pipe)
    good.write_bytes(good.read_bytes()[:-100])  # a download cut short
    (folder / "notes.txt").write_text("not listed")
    addons = _library(studio_paths).scan()

    assert {a.name for a in addons} == {"garbage", "empty", "text", "cut"}
    assert all(not a.usable and a.short_hash == "" for a in addons)
    assert all(a.problem.startswith(f"{a.name}.safetensors cannot be used: ") for a in addons)
    assert "empty" in _by_name(addons, "empty").problem
    assert "not valid JSON" in _by_name(addons, "text").problem
    assert "cut short" in _by_name(addons, "cut").problem


def test_a_huge_declared_header_is_refused_before_it_is_read(tmp_path: Path) -> None:
    claims = tmp_path / "claims.safetensors"
    claims.write_bytes(struct.pack("<Q", 2**40) + b"{}")
    addon = describe_addon(claims, "lora")
    assert "more than any LoRA or embedding needs" in addon.problem  # not "cut short": the bound comes first
    # A sound file whose header is over the bound is refused too, so the bound is what refuses it.
    sound = _write_tensors(tmp_path / "sound.safetensors", {"emb_params": (2, 768)}, {"long": "x" * 5000})
    assert read_addon_header(sound).metadata["long"] == "x" * 5000
    with pytest.raises(UnreadableHeader, match="claims"):
        read_addon_header(sound, max_header=1000)


class _Trap:
    """Unpickling this creates `marker`: proof that something opened the file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_pickle_files_are_listed_needing_consent_and_never_unpickled(
    studio_paths: StudioPaths, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    pt = studio_paths.embeddings_dir / "old-style.pt"
    pt.parent.mkdir(parents=True)
    pt.write_bytes(pickle.dumps({"string_to_param": {"*": _Trap(marker)}}))
    ckpt = studio_paths.loras_dir / "legacy.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(pickle.dumps(_Trap(marker)))
    addons = _library(studio_paths).scan()
    library = _library(studio_paths)
    library.find("legacy")
    assert not marker.exists()

    old, legacy = _by_name(addons, "old-style"), _by_name(addons, "legacy")
    assert (old.kind, old.needs_consent, old.family, old.usable) == ("embedding", True, "unknown", True)
    assert (legacy.kind, legacy.needs_consent) == ("lora", True)
    assert legacy.sha256 == hashlib.sha256(ckpt.read_bytes()).hexdigest()  # not a safetensors: the whole file
    consent = PickleConsent(studio_paths.config_dir / "consent.json")
    problem = consent_problem(legacy, consent)
    assert problem is not None and "legacy.ckpt" in problem and "pickle" in problem
    consent.allow(ckpt)
    assert consent_problem(legacy, consent) is None
    assert consent_problem(_by_name(addons, "old-style"), None) is not None
    assert not marker.exists()


def test_trigger_words_set_by_the_person_persist_and_can_be_reset(studio_paths: StudioPaths) -> None:
    _write_tensors(studio_paths.loras_dir / "miku.safetensors", {"lora_te_x.lora_down.weight": (4, 8)},
                   kohya_metadata(TAGS))
    library = _library(studio_paths)
    miku = library.find("miku")
    assert miku is not None
    updated = library.set_trigger_words(miku, ["  hatsune   miku ", "Hatsune Miku", "", "vocaloid"])
    assert updated.trigger_words == ("hatsune miku", "vocaloid")
    assert updated.training_words == miku.training_words
    assert library.find("miku") == updated  # the snapshot has it too

    again = _library(studio_paths).find("miku")  # a new app start
    assert again is not None and again.trigger_words == ("hatsune miku", "vocaloid")
    assert again.training_words == ("twintails", "blue hair", "miku", "1girl")
    assert _library(studio_paths).set_trigger_words(again, None).trigger_words == again.training_words
    fresh = _library(studio_paths).find("miku")
    assert fresh is not None and fresh.trigger_words == again.training_words


def test_unreadable_trigger_words_file_is_kept_aside_with_a_note(studio_paths: StudioPaths) -> None:
    studio_paths.trigger_words_file.parent.mkdir(parents=True)
    studio_paths.trigger_words_file.write_text("{broken")
    library = _library(studio_paths)
    assert any("trigger words" in note for note in library.notes)
    assert list(studio_paths.data_dir.glob("trigger_words.json.unreadable-*"))


def test_family_mismatch_names_both_families(studio_paths: StudioPaths) -> None:
    path = _write_tensors(studio_paths.loras_dir / "detail-xl.safetensors",
                          {"lora_te1_x.lora_down.weight": (4, 8)})
    addon = describe_addon(path, "lora")
    message = family_problem(addon, "SD 1.x")
    assert message == ("“detail-xl” is a LoRA for SDXL; the current model is SD 1.x. "
                       "Choose a SDXL model to use it, or a LoRA made for SD 1.x.")
    assert family_problem(addon, "SDXL") is None
    assert family_problem(addon, "other") is None  # the model's family is not known
    unknown = _write_tensors(studio_paths.loras_dir / "u.safetensors", {"lora_te_x.lora_down.weight": (4, 8)})
    assert family_problem(describe_addon(unknown, "lora"), "SD 1.x") is None


def test_extra_folders_from_the_settings(studio_paths: StudioPaths, tmp_path: Path) -> None:
    extra = tmp_path / "my loras"
    _write_tensors(extra / "people" / "face.safetensors", {"lora_te_x.lora_down.weight": (4, 8)})
    _write_tensors(extra / ".hidden" / "secret.safetensors", {"lora_te_x.lora_down.weight": (4, 8)})
    settings = Settings(lora_folders=[str(extra)])
    save_settings(settings, studio_paths.settings_file)
    loaded = load_settings(studio_paths.settings_file)
    assert loaded.settings.lora_folders == [str(extra)] and not loaded.notes
    (face,) = _library(studio_paths, loaded.settings).scan(with_hashes=False)
    assert (face.name, face.category) == ("face", "people")


def test_settings_migrate_to_the_folder_lists_and_reject_bad_ones(tmp_path: Path) -> None:
    from studio.config.settings import SCHEMA_VERSION, migrate

    assert migrate({"schema_version": 2})["lora_folders"] == []
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"schema_version": 2, "lora_folders": "/not/a/list",
                                "embedding_folders": ["/e", 5, "/e"]}))
    loaded = load_settings(path)
    assert loaded.settings.lora_folders == [] and loaded.settings.embedding_folders == ["/e"]
    assert len(loaded.notes) == 2 and loaded.settings.schema_version == SCHEMA_VERSION >= 3


def test_studio_loras_lists_the_library(
    studio_paths: StudioPaths, tiny_pipe: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from studio.cli import main

    monkeypatch.setenv("STUDIO_HOME", str(studio_paths.models_dir.parent))
    lora = write_kohya_lora(studio_paths.loras_dir / "chars" / "miku.safetensors", tiny_pipe,
                            metadata=kohya_metadata(TAGS))
    write_embedding(studio_paths.embeddings_dir / "bad-hands.safetensors", width=768)
    (studio_paths.loras_dir / "broken.safetensors").write_bytes(b"\x01")
    short = _after_header_sha256(lora)[:12]

    assert main(["loras"]) == 0
    out = capsys.readouterr().out
    assert "chars/miku  (lora, SD 1.x, " in out and f"hash {short})" in out
    assert "Trigger words: twintails, blue hair, miku, 1girl" in out
    assert "bad-hands  (embedding, SD 1.x, " in out
    assert "Problem: broken.safetensors cannot be used: the file is too short" in out

    assert main(["loras", "--search", "twintails", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["reference"] == "chars/miku" and entry["short_hash"] == short
    assert entry["family"] == "SD 1.x" and entry["size"] == lora.stat().st_size

    assert main(["loras", "--search", "nothing-like-this"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "No LoRA or embedding matches the search" in captured.err


def test_tiny_loras_change_the_picture_and_both_layouts_agree(tiny_pipe: Any, tmp_path: Path) -> None:
    """The helper files other tests rely on: non-zero LoRAs, the same in both layouts."""
    import numpy as np
    import torch

    def picture(lora: Path | None) -> Any:
        if lora is not None:
            tiny_pipe.load_lora_weights(str(lora), adapter_name="test")
        try:
            return tiny_pipe("a cat", num_inference_steps=1, height=32, width=32, output_type="np",
                             generator=torch.Generator().manual_seed(0)).images[0]
        finally:
            if lora is not None:
                tiny_pipe.delete_adapters("test")

    base = picture(None)
    diffusers_file = write_diffusers_lora(tmp_path / "d.safetensors", tiny_pipe, seed=3)
    kohya_file = write_kohya_lora(tmp_path / "k.safetensors", tiny_pipe, seed=3, alpha=2)
    with_diffusers = picture(diffusers_file)
    with_kohya = picture(kohya_file)
    assert np.abs(with_diffusers - base).max() > 0.01
    np.testing.assert_allclose(with_kohya, with_diffusers, atol=1e-5)


def test_tiny_sdxl_lora_and_embedding_are_told_sdxl(studio_paths: StudioPaths, tmp_path: Path) -> None:
    """The SDXL variants of the helper files: kohya's lora_te1_/lora_te2_ prefixes, clip_l/clip_g."""
    from safetensors import safe_open

    from tests.tiny_families import build_tiny_sdxl

    model = build_tiny_sdxl(tmp_path / "tiny-sdxl")
    kohya = write_kohya_lora(studio_paths.loras_dir / "xl-kohya.safetensors", model)
    write_diffusers_lora(studio_paths.loras_dir / "xl-diffusers.safetensors", model)
    write_embedding(studio_paths.embeddings_dir / "xl-embedding.safetensors", sdxl_widths=(768, 1280))
    with safe_open(str(kohya), "pt") as handle:
        prefixes = {key.split("_")[0] + "_" + key.split("_")[1] for key in handle.keys()}
    assert prefixes == {"lora_unet", "lora_te1", "lora_te2"}
    addons = _library(studio_paths).scan(with_hashes=False)
    assert {(a.name, a.kind, a.family) for a in addons} == {
        ("xl-kohya", "lora", "SDXL"), ("xl-diffusers", "lora", "SDXL"), ("xl-embedding", "embedding", "SDXL")}


def test_rescans_read_only_changed_files_and_see_new_ones(studio_paths: StudioPaths) -> None:
    shapes = {"lora_te_x.lora_down.weight": (4, 8)}
    first = _write_tensors(studio_paths.loras_dir / "first.safetensors", shapes, kohya_metadata({"old": 1}))
    library = _library(studio_paths)
    assert _by_name(library.scan(), "first").trigger_words == ("old",)
    # An unchanged file is not read again: a header changed behind the same size and time stays unseen...
    stat = first.stat()
    data = first.read_bytes().replace(b"old", b"new")
    first.write_bytes(data)
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _by_name(library.scan(), "first").trigger_words == ("old",)
    # ...a file that changed is, and a new file is found.
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    _write_tensors(studio_paths.loras_dir / "second.safetensors", shapes)
    addons = library.scan()
    assert _by_name(addons, "first").trigger_words == ("new",)
    assert _by_name(addons, "first").short_hash == _after_header_sha256(first)[:12]
    assert _by_name(addons, "second").usable


def test_trigger_words_that_could_not_be_saved_are_not_held_as_set(tmp_path: Path) -> None:
    from studio.config.atomic import SaveError
    from studio.engine.loras.triggers import TriggerWordStore

    store_file = tmp_path / "trigger_words.json"
    store = TriggerWordStore(store_file)
    lora = tmp_path / "style.safetensors"
    assert store.set(lora, ["ink", "wash"]) == ("ink", "wash")
    store_file.unlink()
    store_file.mkdir()  # a folder where the file goes: the next write fails
    with pytest.raises(SaveError):
        store.set(lora, ["oil"])
    assert store.get(lora) == ("ink", "wash")
    with pytest.raises(SaveError):
        store.clear(lora)
    assert store.get(lora) == ("ink", "wash")
