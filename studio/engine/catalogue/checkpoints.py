"""Single-file checkpoints: what a file is (read from its header, torch-free) and pickle consent.

The family is told from marker keys before anything loads, because diffusers' own detection
calls every file it does not recognise "SD 1.x" and then fails with a shape mismatch.
Loading lives in studio.engine.loading.single_file.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.config.atomic import write_atomic
from studio.engine.errors import ModelError

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
CHECKPOINT_SUFFIXES = SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES
SINGLE_FILE_FAMILIES = ("SD 1.x", "SD 2.x", "SDXL")  # families with a shipped config folder
_MAX_HEADER = 100 * 1024 * 1024

Shapes = Mapping[str, tuple[int, ...]]

_UNET = "model.diffusion_model."
_MARKERS = {
    "flux": "double_blocks.0.img_attn.norm.key_norm.scale",
    "sd3": "joint_blocks.0.context_block.adaLN_modulation.1.bias",
    "sdxl": "conditioner.embedders.1.model.ln_final.weight",
    "sdxl_refiner": "conditioner.embedders.0.model.ln_final.weight",
    "open_clip": "cond_stage_model.model.token_embedding.weight",
    "clip": "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
    "unet_in": _UNET + "input_blocks.0.0.weight",
    "vae": "first_stage_model.decoder.conv_in.weight",
}
_DTYPE_NAMES = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F64": "fp64",
                "F8_E4M3": "fp8", "F8_E5M2": "fp8"}
_DTYPE_BYTES = {"F64": 8, "F32": 4, "I64": 8, "I32": 4, "F16": 2, "BF16": 2, "I16": 2,
                "U8": 1, "I8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


class PickleRefused(ModelError):
    """A pickle checkpoint that the user has not allowed; `path` is the file to ask about."""

    def __init__(self, path: Path) -> None:
        super().__init__(pickle_refusal(path))
        self.path = path


def pickle_refusal(path: Path) -> str:
    """Why Studio does not open the pickle checkpoint `path` without the person's consent."""
    return (
        f"{path.name} is a pickle checkpoint ({path.suffix}). Pickle files can run code on "
        "this computer when they are opened, so Studio does not open them unless you allow "
        "this file. Prefer a .safetensors version of the model: it holds only weights. If you "
        "trust where this file came from, allow it once in the models page; Studio then "
        "reads it in weights-only mode."
    )


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint file is, read without loading it."""

    path: Path
    family: str  # "SD 1.x", "SD 2.x", "SDXL", "SD3", "Flux", or "unknown"
    precision: str  # "fp16", "bf16", "fp32", "fp8", "mixed" or "unknown"
    size: int  # bytes on disk
    is_pickle: bool = False
    problem: str = ""  # why Studio cannot load it; empty when it can
    defaults: dict[str, Any] = field(default_factory=dict)  # steps/guidance hints from the name

    @property
    def loadable(self) -> bool:
        return not self.problem


def is_checkpoint_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in CHECKPOINT_SUFFIXES


def read_safetensors_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """{tensor name: (dtype, shape)} from a .safetensors header, without reading the weights.

    Every field is checked against the format and the file's size, so a damaged or hostile
    header is a ModelError with a plain reason rather than a crash further on.
    """
    reason = ""
    try:
        return _read_header(path)
    except DamagedHeader as damage:
        reason = str(damage)
    except OSError as error:
        reason = f"it cannot be read ({error.strerror or 'input/output error'})"
    raise ModelError(f"{path.name} is damaged: {reason}. Download or copy it again.")


def safetensors_damage(path: Path) -> str:
    """Why `path` is not a sound .safetensors file, or "" when its header and size agree."""
    try:
        _read_header(path)
    except DamagedHeader as damage:
        return str(damage)
    except OSError as error:
        return f"it cannot be read ({error.strerror or 'input/output error'})"
    return ""


class DamagedHeader(ValueError):
    """What is wrong with a safetensors header, as the end of a sentence."""


def _read_header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise DamagedHeader("the file is empty")
        raw = handle.read(8)
        if len(raw) != 8:
            raise DamagedHeader("the file is shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if length > size - 8:
            raise DamagedHeader("its header claims more bytes than the file has (it may be cut short)")
        if length > _MAX_HEADER:
            raise DamagedHeader("its header is larger than any model needs")
        text = handle.read(length)
    try:
        header = json.loads(text.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise DamagedHeader("its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise DamagedHeader("its header is not a table of tensors")
    data_size = size - 8 - length
    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    for name, spec in header.items():
        if name == "__metadata__":
            if not isinstance(spec, dict):
                raise DamagedHeader("its metadata is not a table")
            continue
        tensors[name] = _tensor_entry(_shown_name(name), spec, data_size)
    return tensors


def _tensor_entry(name: str, spec: object, data_size: int) -> tuple[str, tuple[int, ...]]:
    if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
        raise DamagedHeader(f"the entry for {name} lacks its dtype, shape or data offsets")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if not isinstance(dtype, str):
        raise DamagedHeader(f"the dtype of {name} is not a type name")
    if not isinstance(shape, list) or not all(_is_size(n) for n in shape):
        raise DamagedHeader(f"the shape of {name} is not a list of sizes")
    if (
        not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_size(n) for n in offsets)
        or offsets[0] > offsets[1]
    ):
        raise DamagedHeader(f"the data offsets of {name} are not a start and an end")
    if offsets[1] > data_size:
        raise DamagedHeader(f"the data of {name} lies past the end of the file (it may be cut short)")
    if dtype in _DTYPE_BYTES:
        count = 1
        for n in shape:
            count *= n
        if count * _DTYPE_BYTES[dtype] != offsets[1] - offsets[0]:
            raise DamagedHeader(f"the data of {name} does not match its shape")
    return dtype, tuple(shape)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _shown_name(name: str, limit: int = 60) -> str:
    """A tensor name as a message shows it: a hostile header can hold any text there."""
    printable = name.isprintable() and len(name) <= limit
    return name if printable else repr(name[:limit])


def detect_family(shapes: Shapes) -> tuple[str, str]:
    """(family, problem) from tensor names and shapes; problem is "" when Studio can load it."""

    def has(marker: str) -> bool:
        key = _MARKERS[marker]
        return key in shapes or _UNET + key in shapes

    if has("flux"):
        return "Flux", _folder_only("Flux")
    if has("sd3"):
        return "SD3", _folder_only("SD3")
    if has("sdxl"):
        return "SDXL", _full_model_problem(shapes, "SDXL", in_channels=4)
    if has("sdxl_refiner"):
        return "SDXL", (
            "This is an SDXL refiner, which improves an existing image; Studio makes images "
            "from text. Use an SDXL base model."
        )
    if has("open_clip"):
        return "SD 2.x", _full_model_problem(shapes, "SD 2.x", in_channels=4)
    if has("clip"):
        return "SD 1.x", _full_model_problem(shapes, "SD 1.x", in_channels=4)
    return "unknown", _unknown_problem(shapes)


def _full_model_problem(shapes: Shapes, family: str, *, in_channels: int) -> str:
    unet_in = shapes.get(_MARKERS["unet_in"])
    if unet_in is None:
        return f"This {family} file has a text encoder but no UNet; it is not a whole model."
    if len(unet_in) == 4 and unet_in[1] != in_channels:
        kind = {9: "an inpainting", 8: "an instruct-pix2pix"}.get(unet_in[1], "an image-editing")
        return f"This is {kind} {family} model; Studio makes images from text with plain models."
    if _MARKERS["vae"] not in shapes:
        return (
            f"This {family} file has no VAE (the part that turns latents into pixels). Studio "
            "needs a checkpoint that includes its VAE."
        )
    return ""


def _folder_only(family: str) -> str:
    return (
        f"This is a single-file {family} checkpoint. Studio runs {family} models as diffusers "
        "folders or Hugging Face repos; single files are supported for SD 1.x, SD 2.x and SDXL."
    )


def _unknown_problem(shapes: Shapes) -> str:
    names = list(shapes)
    if any("lora_" in n or ".lora." in n for n in names[:200]):
        return "This is a LoRA (a small add-on to a model), not a model on its own."
    if any(n.startswith(_UNET) for n in names):
        return (
            "This file has only a UNet, without text encoder and VAE. Studio needs a whole "
            "checkpoint (SD 1.x, SD 2.x or SDXL) or a diffusers folder."
        )
    if any(n.startswith(("down_blocks.", "conv_in.", "encoder.down", "decoder.up")) for n in names):
        return (
            "This is a single model part (a UNet or VAE in diffusers layout), not a whole "
            "checkpoint. Add the diffusers folder it belongs to instead."
        )
    return (
        "Studio cannot tell what model this file holds: it matches none of SD 1.x, SD 2.x, "
        "SDXL, SD3 or Flux. If it is one of those, it may be damaged or in an unusual layout."
    )


def precision_of(tensors: Mapping[str, tuple[str, tuple[int, ...]]]) -> str:
    """The dtype holding most of the bytes (ignoring small buffers), as Studio names it."""
    by_dtype: dict[str, int] = {}
    for dtype, shape in tensors.values():
        count = 1
        for n in shape:
            count *= n
        by_dtype[dtype] = by_dtype.get(dtype, 0) + count * _DTYPE_BYTES.get(dtype, 0)
    total = sum(by_dtype.values())
    if not total:
        return "unknown"
    dtype, size = max(by_dtype.items(), key=lambda item: item[1])
    if size < 0.9 * total:
        return "mixed"
    return _DTYPE_NAMES.get(dtype, dtype.lower())


def defaults_from_name(name: str) -> dict[str, Any]:
    """Few-step models carry their kind in the file name; their steps and guidance differ."""
    lower = name.lower()
    if "lcm" in lower:
        return {"steps": 6, "guidance": 1.5, "scheduler": "LCM"}
    if any(word in lower for word in ("turbo", "lightning", "hyper", "schnell")):
        return {"steps": 4, "guidance": 0.0}
    return {}


def describe_checkpoint(path: Path) -> CheckpointInfo:
    """Family, precision and size of a checkpoint file, read from its header only (no torch)."""
    if not path.is_file():
        raise ModelError(f"The checkpoint {path} does not exist.")
    size = path.stat().st_size
    defaults = defaults_from_name(path.stem)
    if path.suffix.lower() in PICKLE_SUFFIXES:
        return CheckpointInfo(path, "unknown", "unknown", size, True, "", defaults)
    if path.suffix.lower() not in SAFETENSORS_SUFFIXES:
        raise ModelError(
            f"{path.name} is not a checkpoint Studio knows: use a .safetensors file "
            "or a diffusers folder."
        )
    tensors = read_safetensors_header(path)
    family, problem = detect_family({k: v[1] for k, v in tensors.items()})
    return CheckpointInfo(path, family, precision_of(tensors), size, False, problem, defaults)


class PickleConsent:
    """The pickle files a person has allowed, each by path, size and modification time.

    A file that changes after it was allowed needs a new consent. With a `store` file the
    consents outlive the app; the file is written atomically.
    """

    def __init__(self, store: Path | None = None) -> None:
        self._store = store
        self._allowed: set[str] = set()
        if store is not None and store.is_file():
            try:
                data = json.loads(store.read_text(encoding="utf-8"))
                self._allowed = {str(item) for item in data.get("allowed", [])}
            except (OSError, ValueError, AttributeError):
                self._allowed = set()

    @staticmethod
    def fingerprint(path: Path) -> str:
        stat = path.stat()
        return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"

    def allows(self, path: Path) -> bool:
        return path.is_file() and self.fingerprint(path) in self._allowed

    def allow(self, path: Path) -> None:
        self._allowed.add(self.fingerprint(path))
        self._save()

    def revoke(self, path: Path) -> None:
        resolved = f"{path.resolve()}|"
        self._allowed = {f for f in self._allowed if not f.startswith(resolved)}
        self._save()

    def _save(self) -> None:
        if self._store is None:
            return
        write_atomic(self._store, json.dumps({"allowed": sorted(self._allowed)}, indent=1))
