"""Every kind of bad input to `studio generate`, through the real CLI in a subprocess.

Each row: what was given, the exit code, a distinctive part of the one line Studio prints, and
the promise that nothing was written to --out. Parameter, device and output-folder problems are
found before any model loads; model problems are found from headers and JSON before torch loads
wherever that is possible, so the table stays fast.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

EXCEPTION_TEXT = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Refused)\b:")


def _header_file(path: Path, header: object, data: bytes = b"", *, length: int | None = None) -> Path:
    """A .safetensors file with this header (any JSON value, or raw bytes) and data."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


def _one_tensor(**changes: object) -> dict[str, object]:
    spec: dict[str, object] = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    spec.update(changes)
    return {"w": spec}


class _Payload:
    """Unpickling this would run code (write a file); Studio must never let it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.write_text, (self.marker, "ran"))


def _edit_index(folder: Path, **changes: object) -> None:
    index_file = folder / "model_index.json"
    index = json.loads(index_file.read_text())
    for key, value in changes.items():
        if value is _DROP:
            index.pop(key, None)
        else:
            index[key] = value
    index_file.write_text(json.dumps(index))


_DROP = object()


def _build_bad_models(tiny: Path, root: Path) -> None:
    import torch

    def copy(name: str) -> Path:
        return Path(shutil.copytree(tiny, root / name))

    unet_weights = "unet/diffusion_pytorch_model.safetensors"
    (root / "empty").mkdir()
    (copy("index-broken-json") / "model_index.json").write_text('{"_class_name": ')
    (copy("index-not-object") / "model_index.json").write_text("[1, 2]")
    (copy("index-too-deep") / "model_index.json").write_text("[" * 100_000 + "]" * 100_000)
    _edit_index(copy("unet-empty-list"), unet=[])
    _edit_index(copy("unet-one-item"), unet=["diffusers"])
    _edit_index(copy("unet-string"), unet="UNet2DConditionModel")
    _edit_index(copy("unet-number"), unet=["diffusers", 5])
    _edit_index(copy("unet-object"), unet={"library": "diffusers"})
    _edit_index(copy("unet-null"), unet=[None, None])
    _edit_index(copy("unet-dropped"), unet=_DROP)
    _edit_index(copy("unet-unknown-class"), unet=["diffusers", "NoSuchModel"])
    _edit_index(copy("unet-wrong-type"), unet=["diffusers", "AutoencoderKL"])
    unknown = copy("unet-unknown-class-everywhere")
    _edit_index(unknown, unet=["diffusers", "NoSuchModel"])
    config = json.loads((unknown / "unet" / "config.json").read_text())
    (unknown / "unet" / "config.json").write_text(json.dumps({**config, "_class_name": "NoSuchModel"}))
    _edit_index(copy("pipeline-unknown"), _class_name="StableDiffusionImg2ImgPipeline")
    _edit_index(copy("pipeline-number"), _class_name=7)
    _edit_index(copy("pipeline-remote"), _class_name=["pipeline_mine", "MinePipeline"])
    custom_unet = copy("unet-remote")
    _edit_index(custom_unet, unet=["unet_mine", "MineUNet"])
    (custom_unet / "unet" / "unet_mine.py").write_text("raise SystemExit('remote code ran')\n")
    for name, class_name in (("encoder-auto-map", "CLIPTextModel"), ("encoder-auto-class", "AutoModel")):
        encoder = copy(name)
        _edit_index(encoder, text_encoder=["transformers", class_name])
        config = json.loads((encoder / "text_encoder" / "config.json").read_text())
        config["auto_map"] = {"AutoModel": "modeling_mine.MineModel"}
        (encoder / "text_encoder" / "config.json").write_text(json.dumps(config))
        (encoder / "text_encoder" / "modeling_mine.py").write_text("raise SystemExit('remote code ran')\n")
    shutil.rmtree(copy("vae-missing") / "vae")
    (copy("unet-config-missing") / "unet" / "config.json").unlink()
    (copy("unet-config-broken") / "unet" / "config.json").write_text("{")
    (copy("unet-config-list") / "unet" / "config.json").write_text("[]")
    (copy("scheduler-config-broken") / "scheduler" / "scheduler_config.json").write_text("{")
    pickled = copy("unet-pickle-only")
    (pickled / unet_weights).rename(pickled / "unet" / "diffusion_pytorch_model.bin")
    (copy("unet-no-weights") / unet_weights).unlink()
    cut = copy("unet-truncated") / unet_weights
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    (copy("unet-garbage") / unet_weights).write_bytes(b"not weights at all")
    (copy("unet-zero-bytes") / unet_weights).write_bytes(b"")
    _header_file(copy("unet-shape-number") / unet_weights, _one_tensor(shape=5), b"\0" * 8)
    sharded = copy("unet-shard-missing")
    (sharded / unet_weights).unlink()
    (sharded / "unet" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"conv_in.weight": "diffusion_pytorch_model-00001-of-00002.safetensors"}})
    )
    shards_list = copy("unet-shard-index-list")
    (shards_list / unet_weights).unlink()
    (shards_list / "unet" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"weight_map": ["a.safetensors"]})
    )

    files = root / "files"
    files.mkdir()
    (files / "zero.safetensors").write_bytes(b"")
    (files / "seven-bytes.safetensors").write_bytes(b"1234567")
    _header_file(files / "cut-data.safetensors", _one_tensor(), b"\0" * 4)
    _header_file(files / "shape-number.safetensors", _one_tensor(shape=5), b"\0" * 8)
    _header_file(files / "shape-negative.safetensors", _one_tensor(shape=[-2]), b"\0" * 8)
    _header_file(files / "shape-text.safetensors", _one_tensor(shape=["2"]), b"\0" * 8)
    _header_file(files / "shape-bool.safetensors", _one_tensor(shape=[True, 2]), b"\0" * 8)
    _header_file(files / "dtype-number.safetensors", _one_tensor(dtype=4), b"\0" * 8)
    _header_file(files / "offsets-missing.safetensors", {"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8)
    _header_file(files / "offsets-past-end.safetensors", _one_tensor(data_offsets=[0, 10**12]), b"\0" * 8)
    _header_file(files / "offsets-reversed.safetensors", _one_tensor(data_offsets=[8, 0]), b"\0" * 8)
    _header_file(files / "offsets-text.safetensors", _one_tensor(data_offsets="0-8"), b"\0" * 8)
    _header_file(files / "size-mismatch.safetensors", _one_tensor(shape=[3]), b"\0" * 8)
    _header_file(files / "entry-not-object.safetensors", {"w": [1, 2]})
    _header_file(files / "metadata-list.safetensors", {"__metadata__": [1], **_one_tensor()}, b"\0" * 8)
    _header_file(files / "header-list.safetensors", [1, 2, 3])
    _header_file(files / "header-huge.safetensors", {}, length=2**63)
    _header_file(files / "header-past-end.safetensors", {}, length=10_000)
    _header_file(files / "header-not-json.safetensors", b"{not json}")
    _header_file(files / "header-not-utf8.safetensors", b'{"\xff": 1}')
    _header_file(files / "lora.safetensors", {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight":
            {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)
    (files / "folder.safetensors").mkdir()
    (files / "notes.txt").write_text("not a model")
    (files / "random.ckpt").write_bytes(os.urandom(256))
    (files / "trap.ckpt").write_bytes(pickle.dumps({"state_dict": {"x": _Payload(root / "code-ran")}}))
    torch.save({"state_dict": {"x": torch.zeros(2)}}, str(files / "old.ckpt"),
               _use_new_zipfile_serialization=False)
    (root / "a-file").write_text("in the way of --out")


@pytest.fixture(scope="module")
def bad(tiny_sd_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    _build_bad_models(tiny_sd_model, root)
    return root


def _cuda_here() -> bool:
    import torch

    return bool(torch.cuda.is_available())


ON_CUDA = pytest.mark.skipif("_cuda_here()", reason="this machine has CUDA")

TINY = ("--model", "{tiny}")
RUN = ("--steps", "2", "--size", "32x32", "--seed", "1")

# id, arguments after `generate --prompt ...` ({tiny}, {bad}, {out} are filled in), exit code,
# a distinctive part of what Studio says.
CASES: list[tuple[str, tuple[str, ...], int, str] | object] = [
    # Parameters: found before the model is even looked at.
    ("steps-zero", (*TINY, "--steps", "0"), 2, "Steps must be a whole number from 1 to 500, not 0."),
    ("steps-too-many", (*TINY, "--steps", "501"), 2, "Steps must be a whole number from 1 to 500"),
    ("steps-text", (*TINY, "--steps", "many"), 2, "argument --steps: invalid int value: 'many'"),
    ("steps-fraction", (*TINY, "--steps", "2.5"), 2, "argument --steps: invalid int value"),
    ("seed-negative", (*TINY, "--seed", "-1"), 2, "Seed must be a whole number from 0 to 4294967295"),
    ("seed-too-big", (*TINY, "--seed", "4294967296"), 2, "Seed must be a whole number from 0"),
    ("seed-thousand-digits", (*TINY, "--seed", "9" * 1000), 2, "Seed must be a whole number"),
    ("seed-text", (*TINY, "--seed", "lucky"), 2, "argument --seed: invalid int value"),
    ("guidance-negative", (*TINY, "--guidance", "-1"), 2, "Guidance must be a number from 0 to 30, not -1.0."),
    ("guidance-too-big", (*TINY, "--guidance", "31"), 2, "Guidance must be a number from 0 to 30"),
    ("guidance-nan", (*TINY, "--guidance", "nan"), 2, "Guidance must be a number from 0 to 30, not nan."),
    ("guidance-inf", (*TINY, "--guidance", "inf"), 2, "Guidance must be a number from 0 to 30, not inf."),
    ("guidance-text", (*TINY, "--guidance", "strong"), 2, "argument --guidance: invalid float value"),
    ("size-text", (*TINY, "--size", "big"), 2, "--size must look like 512x512, not 'big'."),
    ("size-one-number", (*TINY, "--size", "512"), 2, "--size must look like 512x512"),
    ("size-negative", (*TINY, "--size=-64x64"), 2, "--size must look like 512x512"),
    ("size-zero", (*TINY, "--size", "0x0"), 2, "Width must be from 32 to 2048 pixels, not 0."),
    ("size-too-big", (*TINY, "--size", "4096x64"), 2, "Width must be from 32 to 2048 pixels, not 4096."),
    ("size-not-multiple", (*TINY, "--size", "64x65"), 2, "Height must be a multiple of 8 pixels"),
    ("batch-zero", (*TINY, "--batch", "0"), 2, "Batch size must be a whole number from 1 to 16, not 0."),
    ("batch-too-big", (*TINY, "--batch", "17"), 2, "Batch size must be a whole number from 1 to 16"),
    ("batch-text", (*TINY, "--batch", "few"), 2, "argument --batch: invalid int value"),
    ("scheduler-unknown", (*TINY, "--scheduler", "Nope"), 2, "Unknown scheduler 'Nope'. Choose one of:"),
    ("prompt-lone-surrogate", (*TINY, "--prompt", "a \udcff cat"), 2,
     "The prompt holds characters that are not valid text"),
    ("negative-lone-surrogate", (*TINY, "--negative", "\udcfe"), 2, "The negative prompt holds characters"),
    ("prompt-too-long", (*TINY, "--prompt", "x" * 20_001), 2, "The prompt is 20,001 characters long"),
    ("option-unknown", (*TINY, "--colour", "red"), 2, "unrecognized arguments: --colour red"),
    ("model-unknown-name", ("--model", "no-such-model"), 2, "Model 'no-such-model' was not found"),
    ("model-missing-path", ("--model", "{bad}/nowhere"), 2, "was not found"),
    # Devices: named ones this machine lacks are refused before the model loads.
    ("device-bogus", (*TINY, *RUN, "--device", "bogus"), 2, "Unknown device 'bogus'. This computer has: "),
    ("device-empty", (*TINY, *RUN, "--device", ""), 2, "Unknown device ''. This computer has: "),
    pytest.param("device-cuda-absent", (*TINY, *RUN, "--device", "cuda"), 2,
                 "There is no CUDA GPU here", marks=ON_CUDA, id="device-cuda-absent"),
    pytest.param("device-cuda-index-absent", (*TINY, *RUN, "--device", "cuda:3"), 2,
                 "There is no CUDA GPU here", marks=ON_CUDA, id="device-cuda-index-absent"),
    ("device-cuda-index-text", (*TINY, *RUN, "--device", "cuda:x"), 2, "Unknown device 'cuda:x'"),
    ("device-mps-absent", (*TINY, *RUN, "--device", "mps"), 2, "Apple's MPS is not available here"),
    # The output folder: checked before the run, so no image is made only to be lost.
    ("out-is-a-file", (*TINY, *RUN, "--out", "{bad}/a-file"), 2, "is a file, not a folder"),
    ("out-under-a-file", (*TINY, *RUN, "--out", "{bad}/a-file/images"), 2,
     "images cannot be made: "),
    ("out-name-too-long", (*TINY, *RUN, "--out", "{out}/" + "n" * 300), 2, "the name is too long"),
    # Model folders.
    ("folder-empty", ("--model", "{bad}/empty", *RUN), 1, "it has no model_index.json"),
    ("index-broken-json", ("--model", "{bad}/index-broken-json", *RUN), 1,
     "The model index-broken-json cannot be read: its model_index.json is damaged (it is not valid JSON)."),
    ("index-not-object", ("--model", "{bad}/index-not-object", *RUN), 1,
     "its model_index.json is damaged (it does not describe a pipeline)."),
    ("index-too-deep", ("--model", "{bad}/index-too-deep", *RUN), 1, "is not valid JSON"),
    ("unet-empty-list", ("--model", "{bad}/unet-empty-list", *RUN), 1,
     "model_index.json should name the library and class of its unet, not []"),
    ("unet-one-item", ("--model", "{bad}/unet-one-item", *RUN), 1, "the library and class of its unet"),
    ("unet-string", ("--model", "{bad}/unet-string", *RUN), 1, "the library and class of its unet"),
    ("unet-number", ("--model", "{bad}/unet-number", *RUN), 1, "the library and class of its unet"),
    ("unet-object", ("--model", "{bad}/unet-object", *RUN), 1, "the library and class of its unet"),
    ("unet-null", ("--model", "{bad}/unet-null", *RUN), 1,
     "is incomplete: it has no unet, which a StableDiffusionPipeline needs"),
    ("unet-dropped", ("--model", "{bad}/unet-dropped", *RUN), 1, "it has no unet"),
    ("unet-unknown-class", ("--model", "{bad}/unet-unknown-class", *RUN), 1,
     "model_index.json says its unet is NoSuchModel, which does not fit the UNet2DConditionModel"),
    ("unet-unknown-class-everywhere", ("--model", "{bad}/unet-unknown-class-everywhere", *RUN), 1,
     "is damaged: its unet is NoSuchModel, which diffusers does not have"),
    ("unet-wrong-type", ("--model", "{bad}/unet-wrong-type", *RUN), 1,
     "model_index.json says its unet is AutoencoderKL, which does not fit the UNet2DConditionModel"),
    ("pipeline-unknown", ("--model", "{bad}/pipeline-unknown", *RUN), 1,
     "is a StableDiffusionImg2ImgPipeline model; Studio runs these pipelines"),
    ("pipeline-number", ("--model", "{bad}/pipeline-number", *RUN), 1, "is a 7 model; Studio runs"),
    ("pipeline-remote-code", ("--model", "{bad}/pipeline-remote", *RUN), 1,
     "needs custom code (pipeline_mine.MinePipeline), which Studio does not run"),
    ("unet-remote-code", ("--model", "{bad}/unet-remote", *RUN), 1,
     "needs custom code (unet_mine.MineUNet), which Studio does not run"),
    ("text-encoder-auto-map", ("--model", "{bad}/encoder-auto-map", *RUN), 1,
     "needs custom code (modeling_mine.MineModel), which Studio does not run"),
    ("text-encoder-auto-class", ("--model", "{bad}/encoder-auto-class", *RUN), 1,
     "needs custom code (modeling_mine.MineModel), which Studio does not run"),
    ("vae-folder-missing", ("--model", "{bad}/vae-missing", *RUN), 1, "is incomplete: the vae/ folder is missing"),
    ("unet-config-missing", ("--model", "{bad}/unet-config-missing", *RUN), 1, "unet/config.json is missing"),
    ("unet-config-broken", ("--model", "{bad}/unet-config-broken", *RUN), 1,
     "its unet/config.json is damaged (it is not valid JSON)."),
    ("unet-config-list", ("--model", "{bad}/unet-config-list", *RUN), 1,
     "its unet/config.json is damaged (it does not describe a model part)."),
    ("scheduler-config-broken", ("--model", "{bad}/scheduler-config-broken", *RUN), 1,
     "its scheduler/scheduler_config.json is damaged (it is not valid JSON)."),
    ("unet-pickle-only", ("--model", "{bad}/unet-pickle-only", *RUN), 1,
     "stores unet as a pickle (.bin) file"),
    ("unet-no-weights", ("--model", "{bad}/unet-no-weights", *RUN), 1, "unet/ has no weights file"),
    ("unet-truncated", ("--model", "{bad}/unet-truncated", *RUN), 1,
     "The weights file unet/diffusion_pytorch_model.safetensors of the model unet-truncated is damaged"),
    ("unet-garbage", ("--model", "{bad}/unet-garbage", *RUN), 1, "of the model unet-garbage is damaged"),
    ("unet-zero-bytes", ("--model", "{bad}/unet-zero-bytes", *RUN), 1, "is damaged: the file is empty"),
    ("unet-shape-number", ("--model", "{bad}/unet-shape-number", *RUN), 1,
     "is damaged: the shape of w is not a list of sizes"),
    ("unet-shard-missing", ("--model", "{bad}/unet-shard-missing", *RUN), 1,
     "is incomplete: unet/diffusion_pytorch_model-00001-of-00002.safetensors is missing"),
    ("unet-shard-index-list", ("--model", "{bad}/unet-shard-index-list", *RUN), 1,
     "diffusion_pytorch_model.safetensors.index.json is damaged (it does not list the weight files)"),
    # Single model files.
    ("file-zero-bytes", ("--model", "{bad}/files/zero.safetensors", *RUN), 1,
     "zero.safetensors is damaged: the file is empty"),
    ("file-seven-bytes", ("--model", "{bad}/files/seven-bytes.safetensors", *RUN), 1,
     "is damaged: the file is shorter than a safetensors header"),
    ("file-data-cut-short", ("--model", "{bad}/files/cut-data.safetensors", *RUN), 1,
     "is damaged: the data of w lies past the end of the file"),
    ("header-shape-number", ("--model", "{bad}/files/shape-number.safetensors", *RUN), 1,
     "shape-number.safetensors is damaged: the shape of w is not a list of sizes"),
    ("header-shape-negative", ("--model", "{bad}/files/shape-negative.safetensors", *RUN), 1,
     "the shape of w is not a list of sizes"),
    ("header-shape-text", ("--model", "{bad}/files/shape-text.safetensors", *RUN), 1,
     "the shape of w is not a list of sizes"),
    ("header-shape-bool", ("--model", "{bad}/files/shape-bool.safetensors", *RUN), 1,
     "the shape of w is not a list of sizes"),
    ("header-dtype-number", ("--model", "{bad}/files/dtype-number.safetensors", *RUN), 1,
     "the dtype of w is not a type name"),
    ("header-offsets-missing", ("--model", "{bad}/files/offsets-missing.safetensors", *RUN), 1,
     "the entry for w lacks its dtype, shape or data offsets"),
    ("header-offsets-past-end", ("--model", "{bad}/files/offsets-past-end.safetensors", *RUN), 1,
     "the data of w lies past the end of the file"),
    ("header-offsets-reversed", ("--model", "{bad}/files/offsets-reversed.safetensors", *RUN), 1,
     "the data offsets of w are not a start and an end"),
    ("header-offsets-text", ("--model", "{bad}/files/offsets-text.safetensors", *RUN), 1,
     "the data offsets of w are not a start and an end"),
    ("header-size-mismatch", ("--model", "{bad}/files/size-mismatch.safetensors", *RUN), 1,
     "the data of w does not match its shape"),
    ("header-entry-not-object", ("--model", "{bad}/files/entry-not-object.safetensors", *RUN), 1,
     "the entry for w lacks its dtype, shape or data offsets"),
    ("header-metadata-list", ("--model", "{bad}/files/metadata-list.safetensors", *RUN), 1,
     "its metadata is not a table"),
    ("header-not-object", ("--model", "{bad}/files/header-list.safetensors", *RUN), 1,
     "its header is not a table of tensors"),
    ("header-length-huge", ("--model", "{bad}/files/header-huge.safetensors", *RUN), 1,
     "its header claims more bytes than the file has"),
    ("header-length-past-end", ("--model", "{bad}/files/header-past-end.safetensors", *RUN), 1,
     "its header claims more bytes than the file has"),
    ("header-not-json", ("--model", "{bad}/files/header-not-json.safetensors", *RUN), 1,
     "its header is not valid JSON"),
    ("header-not-utf8", ("--model", "{bad}/files/header-not-utf8.safetensors", *RUN), 1,
     "its header is not valid JSON"),
    ("file-lora", ("--model", "{bad}/files/lora.safetensors", *RUN), 1, "This is a LoRA"),
    ("folder-named-safetensors", ("--model", "{bad}/files/folder.safetensors", *RUN), 1,
     "folder.safetensors is a folder, not a checkpoint file"),
    ("file-unknown-kind", ("--model", "{bad}/files/notes.txt", *RUN), 1,
     "notes.txt is not a checkpoint Studio knows"),
    ("pickle-without-consent", ("--model", "{bad}/files/trap.ckpt", *RUN), 1,
     "Pickle files can run code on this computer"),
    ("pickle-trapped-allowed", ("--model", "{bad}/files/trap.ckpt", *RUN, "--allow-pickle"), 1,
     "trap.ckpt could not be read as plain weights: it holds code, or is in an old format"),
    ("pickle-old-format-allowed", ("--model", "{bad}/files/old.ckpt", *RUN, "--allow-pickle"), 1,
     "old.ckpt could not be read as plain weights: it holds code, or is in an old format"),
    ("pickle-random-allowed", ("--model", "{bad}/files/random.ckpt", *RUN, "--allow-pickle"), 1,
     "random.ckpt could not be read as plain weights"),
]


def _params() -> list[object]:
    rows = []
    for case in CASES:
        if hasattr(case, "marks"):  # already a pytest.param
            rows.append(case)
        else:
            assert isinstance(case, tuple)
            rows.append(pytest.param(*case, id=case[0]))
    return rows


def _studio(argv: list[str], home: Path) -> subprocess.CompletedProcess[bytes]:
    env = os.environ | {"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    # Bytes, so that a lone surrogate reaches Studio as the undecodable byte a shell would pass.
    args = [os.fsencode(a) for a in (sys.executable, "-m", "studio", *argv)]
    return subprocess.run(args, capture_output=True, env=env, timeout=300)


@pytest.mark.parametrize(("case", "args", "code", "message"), _params())
def test_bad_input_is_refused_in_one_line_and_nothing_is_written(
    case: str, args: tuple[str, ...], code: int, message: str,
    bad: Path, tiny_sd_model: Path, tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    filled = [a.format(tiny=tiny_sd_model, bad=bad, out=out) for a in args]
    if "--prompt" not in filled:
        filled = ["--prompt", "a red circle", *filled]
    if "--out" not in filled:
        filled += ["--out", str(out)]
    result = _studio(["generate", *filled], tmp_path / "home")
    stderr = result.stderr.decode("utf-8", "backslashreplace")
    assert result.returncode == code, stderr
    assert message in stderr
    assert "Traceback" not in stderr
    assert not EXCEPTION_TEXT.search(stderr), stderr
    assert "trust_remote_code" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert result.stdout == b""
    assert list(out.iterdir()) == []
    assert not (bad / "code-ran").exists()


def test_a_shard_index_of_the_wrong_shape_is_just_not_runnable(tiny_sd_model: Path, tmp_path: Path) -> None:
    """The hub cache scan asks this of every snapshot; a bad index must not stop the scan."""
    from studio.engine.catalogue.model_files import is_runnable_pipeline

    folder = Path(shutil.copytree(tiny_sd_model, tmp_path / "model"))
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    index = folder / "unet" / "diffusion_pytorch_model.safetensors.index.json"
    for weight_map in (["a.safetensors"], {"w": 5}, "x"):
        index.write_text(json.dumps({"weight_map": weight_map}))
        assert is_runnable_pipeline(folder) is False
    (folder / "model_index.json").write_text("[" * 100_000)
    assert is_runnable_pipeline(folder) is False


@pytest.mark.parametrize(("device", "words"), [("bogus", "Unknown device 'bogus'"), ("cuda:x", "Unknown device")])
def test_the_engine_fails_on_a_device_it_lacks_with_a_device_problem(
    device: str, words: str, tiny_sd_model: Path, tmp_path: Path
) -> None:
    """The app and scripts reach the engine without the CLI's checks: same words, a typed cause."""
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.errors import DeviceProblem
    from studio.engine.run.engine import Engine
    from studio.engine.run.events import Failed
    from studio.engine.run.request import GenerationRequest

    engine = Engine(ModelRegistry(StudioPaths.under(tmp_path / "home")), device=device)
    request = GenerationRequest("x", model=str(tiny_sd_model), steps=2, width=32, height=32, seed=1)
    outcome = engine.generate(request, lambda event: None)
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.cause, DeviceProblem) and outcome.cause.device == device
    assert outcome.message.startswith(words) and "This computer has: " in outcome.message
