"""Single-file checkpoints: offline loading, family detection before loading, pickle consent."""

from __future__ import annotations

import json
import os
import pickle
import socket
import struct
from pathlib import Path

import pytest

from studio.engine.catalogue.checkpoints import (
    PickleConsent,
    PickleRefused,
    describe_checkpoint,
    read_safetensors_header,
)
from studio.engine.errors import ModelError

CAT_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]  # CLIP's ids for "a photo of a cat"


@pytest.fixture(scope="module", params=["SD 1.x", "SD 2.x", "SDXL"])
def family_checkpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, Path]:
    """(family, tiny checkpoint in the original layout, the diffusers folder it came from)."""
    from tests.tiny_families import build_tiny_checkpoint

    family = str(request.param)
    file, _config, source = build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"), family=family)
    return family, file, source


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from tests.tiny_families import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _engine(tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    return Engine(ModelRegistry(StudioPaths.under(tmp_path / "studio")), **kwargs)  # type: ignore[arg-type]


def _generate(engine, model: Path):  # type: ignore[no-untyped-def]
    from studio.engine.run.request import GenerationRequest

    events: list[object] = []
    request = GenerationRequest(prompt="a cat", model=str(model), steps=2, width=32, height=32,
                                seed=3)
    return engine.generate(request, events.append), events


def test_ldm_checkpoint_loads_offline_with_the_same_weights(
    family_checkpoint: tuple[str, Path, Path], no_network: None
) -> None:
    import diffusers
    import torch

    from studio.engine.loading.single_file import load_single_file

    family, file, source = family_checkpoint
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert describe_checkpoint(file).family == family
    assert all(
        k.startswith(("model.diffusion_model.", "first_stage_model.", "cond_stage_model.",
                      "conditioner.embedders."))
        for k in read_safetensors_header(file)
    )
    pipe = load_single_file(file, torch.float32)
    index = json.loads((source / "model_index.json").read_text())
    reference = getattr(diffusers, index["_class_name"]).from_pretrained(
        str(source), local_files_only=True
    )
    assert type(pipe) is type(reference)
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        if getattr(reference, name, None) is None:
            continue
        loaded, expected = getattr(pipe, name).state_dict(), getattr(reference, name).state_dict()
        assert loaded.keys() == expected.keys()
        assert all(torch.equal(loaded[k], expected[k]) for k in expected), name


def test_checkpoint_makes_an_image_through_the_engine(
    family_checkpoint: tuple[str, Path, Path], tmp_path: Path, no_network: None
) -> None:
    from studio.engine.run.events import Finished, Step

    _family, file, _source = family_checkpoint
    outcome, events = _generate(_engine(tmp_path), file)
    assert isinstance(outcome, Finished), getattr(outcome, "details", outcome)
    assert outcome.images[0].size == (32, 32)
    steps = [e for e in events if isinstance(e, Step)]
    assert len(steps) == 2 and steps[-1].preview is not None


def _write_header_only(path: Path, shapes: dict[str, list[int]], dtype: str = "F16") -> Path:
    """A valid safetensors file of zeros with these tensors; sparse, so real sizes are cheap."""
    header: dict[str, object] = {}
    offset = 0
    for name, shape in shapes.items():
        size = 2
        for n in shape:
            size *= n
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + offset)
    return path


UNET_IN = {"model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3]}
VAE_IN = {"first_stage_model.decoder.conv_in.weight": [512, 4, 3, 3]}
REAL_SIZE = {
    "SD 1.x": {
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": [49408, 768],
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 768],
        **UNET_IN, **VAE_IN,
    },
    "SD 2.x": {
        "cond_stage_model.model.token_embedding.weight": [49408, 1024],
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": [320, 1024],
        **UNET_IN, **VAE_IN,
    },
    "SDXL": {
        "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight":
            [49408, 768],
        "conditioner.embedders.1.model.ln_final.weight": [1280],
        **UNET_IN, **VAE_IN,
    },
}


@pytest.mark.parametrize("family", sorted(REAL_SIZE))
def test_real_size_families_are_told_apart_from_the_header(family: str, tmp_path: Path) -> None:
    file = _write_header_only(tmp_path / "model-turbo.safetensors", REAL_SIZE[family])
    info = describe_checkpoint(file)
    assert (info.family, info.precision, info.problem) == (family, "fp16", "")
    assert info.size == file.stat().st_size
    assert info.defaults == {"steps": 4, "guidance": 0.0}  # "turbo" in the name


@pytest.mark.parametrize(
    ("shapes", "family", "words"),
    [
        ({"double_blocks.0.img_attn.norm.key_norm.scale": [128]}, "Flux", "diffusers folders"),
        ({"model.diffusion_model.joint_blocks.0.context_block.adaLN_modulation.1.bias": [9216]},
         "SD3", "diffusers folders"),
        ({"conditioner.embedders.0.model.ln_final.weight": [1280], **UNET_IN}, "SDXL", "refiner"),
        ({**REAL_SIZE["SD 1.x"], "model.diffusion_model.input_blocks.0.0.weight": [320, 9, 3, 3]},
         "SD 1.x", "inpainting"),
        ({k: v for k, v in REAL_SIZE["SD 1.x"].items() if k not in VAE_IN}, "SD 1.x", "no VAE"),
        (UNET_IN, "unknown", "only a UNet"),
        ({"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": [4, 320]},
         "unknown", "LoRA"),
        ({"encoder.layers.0.weight": [8, 8]}, "unknown", "cannot tell"),
    ],
)
def test_files_studio_cannot_run_get_a_reason(
    shapes: dict[str, list[int]], family: str, words: str, tmp_path: Path
) -> None:
    from studio.engine.loading.single_file import load_single_file

    file = _write_header_only(tmp_path / "thing.safetensors", shapes)
    info = describe_checkpoint(file)
    assert info.family == family
    assert words in info.problem
    with pytest.raises(ModelError, match=words):
        load_single_file(file, None)


def test_unknown_file_fails_in_the_engine_with_the_reason(tmp_path: Path) -> None:
    from studio.engine.run.events import Failed

    file = _write_header_only(tmp_path / "mystery.safetensors", {"weight": [4, 4]})
    outcome, _events = _generate(_engine(tmp_path), file)
    assert isinstance(outcome, Failed)
    assert "cannot tell what model" in outcome.message
    assert "size mismatch" not in outcome.message


def test_a_checkpoint_that_does_not_fit_its_family_says_so(
    tiny_checkpoint: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    import torch

    from studio.engine.loading.single_file import load_single_file

    lone = tmp_path / "tiny.safetensors"  # no sidecar config: the real SD 1.x shapes apply
    lone.write_bytes(tiny_checkpoint[0].read_bytes())
    with pytest.raises(ModelError, match=r"do not fit the SD 1\.x architecture"):
        load_single_file(lone, torch.float32)


def test_damaged_file_is_named(tmp_path: Path) -> None:
    file = tmp_path / "cut.safetensors"
    file.write_bytes(struct.pack("<Q", 10_000) + b"{")
    with pytest.raises(ModelError, match=r"^cut\.safetensors is damaged: its header claims more bytes"):
        describe_checkpoint(file)


def _one(**changes: object) -> dict[str, object]:
    spec: dict[str, object] = {"dtype": "F16", "shape": [2, 2], "data_offsets": [0, 8]}
    spec.update(changes)
    return {"w": spec}


@pytest.mark.parametrize(
    ("header", "data", "reason"),
    [
        (_one(shape=5), 8, "the shape of w is not a list of sizes"),
        (_one(shape=None), 8, "the shape of w is not a list of sizes"),
        (_one(shape=[2, -2]), 8, "the shape of w is not a list of sizes"),
        (_one(shape=[2.0, 2]), 8, "the shape of w is not a list of sizes"),
        (_one(shape=[False]), 8, "the shape of w is not a list of sizes"),
        (_one(dtype=["F16"]), 8, "the dtype of w is not a type name"),
        (_one(data_offsets=[0]), 8, "the data offsets of w are not a start and an end"),
        (_one(data_offsets=[-8, 0]), 8, "the data offsets of w are not a start and an end"),
        (_one(data_offsets=[0, 9]), 8, "the data of w lies past the end of the file (it may be cut short)"),
        (_one(data_offsets=[0, 4]), 8, "the data of w does not match its shape"),
        ({"w": "F16"}, 0, "the entry for w lacks its dtype, shape or data offsets"),
        ({"__metadata__": "x"}, 0, "its metadata is not a table"),
        ("tensors", 0, "its header is not a table of tensors"),
        ({"\n" * 3: {"dtype": 1}}, 0, "the entry for '\\n\\n\\n' lacks its dtype, shape or data offsets"),
    ],
)
def test_every_malformed_header_is_a_model_error_with_a_reason(
    header: object, data: int, reason: str, tmp_path: Path
) -> None:
    raw = json.dumps(header).encode()
    file = tmp_path / "odd.safetensors"
    file.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data)
    with pytest.raises(ModelError) as caught:
        read_safetensors_header(file)
    assert str(caught.value) == f"odd.safetensors is damaged: {reason}. Download or copy it again."
    with pytest.raises(ModelError) as described:
        describe_checkpoint(file)  # the registry's look-up goes this way
    assert str(described.value) == str(caught.value)


def test_a_header_length_past_any_limit_is_refused_without_reading(tmp_path: Path) -> None:
    file = tmp_path / "huge.safetensors"
    file.write_bytes(struct.pack("<Q", 2**64 - 1) + b"{}")
    with pytest.raises(ModelError, match="its header claims more bytes than the file has"):
        read_safetensors_header(file)


def test_a_sound_header_still_reads(tmp_path: Path) -> None:
    raw = json.dumps({"__metadata__": {"format": "pt"}, **_one()}).encode()
    file = tmp_path / "ok.safetensors"
    file.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * 8)
    assert read_safetensors_header(file) == {"w": ("F16", (2, 2))}


@pytest.fixture(scope="module")
def tiny_pickle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tiny_families import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("pickle"), suffix=".ckpt")[0]


def test_pickle_is_refused_until_this_file_is_allowed(tiny_pickle: Path, tmp_path: Path) -> None:
    from studio.engine.run.events import Failed, Finished

    info = describe_checkpoint(tiny_pickle)
    assert info.is_pickle and info.loadable
    consent = PickleConsent(tmp_path / "consent.json")
    engine = _engine(tmp_path, pickle_consent=consent)
    refused, _ = _generate(engine, tiny_pickle)
    assert isinstance(refused, Failed)
    assert "can run code" in refused.message and "safetensors" in refused.message

    consent.allow(tiny_pickle)
    assert PickleConsent(tmp_path / "consent.json").allows(tiny_pickle)  # kept on disk
    allowed, _ = _generate(engine, tiny_pickle)
    assert isinstance(allowed, Finished), getattr(allowed, "details", allowed)


def test_consent_is_per_file_and_lapses_when_the_file_changes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.ckpt", tmp_path / "b.ckpt"
    first.write_bytes(b"one")
    second.write_bytes(b"two")
    consent = PickleConsent()
    consent.allow(first)
    assert consent.allows(first) and not consent.allows(second)
    first.write_bytes(b"changed")
    assert not consent.allows(first)


class _Payload:
    """Unpickling this runs code: it writes a file. weights_only must refuse it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "ran"))


def test_allowed_pickle_still_loads_weights_only(tmp_path: Path) -> None:
    from studio.engine.loading.single_file import read_state_dict

    marker = tmp_path / "code-ran.txt"
    file = tmp_path / "evil.ckpt"
    file.write_bytes(pickle.dumps({"state_dict": {"x": _Payload(marker)}}))
    consent = PickleConsent()
    with pytest.raises(PickleRefused):
        read_state_dict(file, consent)
    consent.allow(file)
    with pytest.raises(ModelError, match="could not be read as plain weights"):
        read_state_dict(file, consent)
    assert not marker.exists()


@pytest.mark.parametrize("family", ["SD 1.x", "SD 2.x", "SDXL"])
def test_shipped_configs_build_the_real_architectures(family: str) -> None:
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    from studio.engine.loading.single_file import config_folder, load_tokenizer

    folder = config_folder(family)
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(
            UNet2DConditionModel.load_config(str(folder), subfolder="unet")
        )
    params = sum(p.numel() for p in unet.parameters())
    assert params == {"SD 1.x": 859_520_964, "SD 2.x": 865_910_724, "SDXL": 2_567_463_684}[family]
    index = json.loads((folder / "model_index.json").read_text())
    for name in [n for n in index if n.startswith("tokenizer")]:
        assert load_tokenizer(folder, name)("a photo of a cat").input_ids == CAT_IDS


def test_shipped_configs_stay_small() -> None:
    from studio.engine.loading.single_file import configs_dir

    total = sum(f.stat().st_size for f in configs_dir().rglob("*") if f.is_file())
    assert total < 2 * 1024 * 1024


def test_sd2_base_files_get_epsilon_prediction() -> None:
    from studio.engine.loading.single_file import schedule_hints

    assert schedule_hints(Path("v2-1_512-ema-pruned.safetensors"), "SD 2.x") == {
        "prediction_type": "epsilon"}
    assert schedule_hints(Path("v2-1_768-ema-pruned.safetensors"), "SD 2.x") == {}
    assert schedule_hints(Path("sd15-base.safetensors"), "SD 1.x") == {}
