"""Loading a single-file checkpoint (original LDM key layout) fully offline.

Each component is built from a config folder shipped in resources/configs and filled from the
file's state dict, so nothing is fetched from the network. Pickle files load only with the
person's consent, and then with torch.load(weights_only=True).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

from studio.config.paths import resources_dir
from studio.engine.catalogue.checkpoints import (
    PICKLE_SUFFIXES,
    SINGLE_FILE_FAMILIES,
    PickleConsent,
    PickleRefused,
    describe_checkpoint,
    detect_family,
)
from studio.engine.errors import ModelError

CONFIG_FOLDERS = {"SD 1.x": "sd15", "SD 2.x": "sd21", "SDXL": "sdxl"}
CLIP_TOKENIZER = "clip-tokenizer"


def configs_dir() -> Path:
    return resources_dir() / "configs"


def config_folder(family: str) -> Path:
    """The shipped diffusers config folder (no weights) for a single-file family."""
    if family not in CONFIG_FOLDERS:
        raise ModelError(
            f"Single-file {family} checkpoints are not supported; "
            f"Studio loads {', '.join(SINGLE_FILE_FAMILIES)} from single files."
        )
    return configs_dir() / CONFIG_FOLDERS[family]


def sidecar_config(path: Path) -> Path | None:
    """`model.config/` next to `model.safetensors`: a diffusers folder (configs, no weights)
    for a checkpoint whose architecture or schedule differs from its family's usual one."""
    folder = path.with_name(path.stem + ".config")
    return folder if (folder / "model_index.json").is_file() else None


def read_state_dict(path: Path, consent: PickleConsent | None) -> dict[str, Any]:
    """All tensors of a checkpoint on the CPU. Pickles need consent and load weights-only."""
    import torch

    if path.suffix.lower() in PICKLE_SUFFIXES:
        if consent is None or not consent.allows(path):
            raise PickleRefused(path)
        try:
            data = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # weights_only refuses any code; old formats and damage fail too
            raise ModelError(pickle_unreadable(path)) from None
        while isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
            data = data["state_dict"]
        if not isinstance(data, dict):
            raise ModelError(f"{path.name} does not hold a table of weights.")
        return {k: v for k, v in data.items() if isinstance(v, torch.Tensor)}
    from safetensors.torch import load_file

    try:
        return dict(load_file(str(path), device="cpu"))
    except Exception:  # safetensors raises several types for damaged files
        raise ModelError(f"{path.name} is damaged: its weights cannot be read. Download or copy it again.") from None


def pickle_unreadable(path: Path) -> str:
    """Why an allowed pickle still does not load: Studio reads pickles as plain weights only."""
    return (
        f"{path.name} could not be read as plain weights: it holds code, or is in an old format "
        "or damaged, and Studio will not run either. Convert it to .safetensors (or get a "
        ".safetensors version of the model) and use that."
    )


def load_single_file(
    path: Path,
    dtype: Any,
    *,
    consent: PickleConsent | None = None,
    config: Path | None = None,
) -> Any:
    """A text-to-image pipeline (on the CPU) from one checkpoint file, offline.

    The architecture comes from `config`, else from a sidecar folder next to the file (see
    `sidecar_config`), else from the config folder Studio ships for the family.
    """
    info = describe_checkpoint(path)
    if info.problem:
        raise ModelError(f"{path.name}: {info.problem}")
    state = read_state_dict(path, consent)
    family, problem = detect_family({k: tuple(v.shape) for k, v in state.items()})
    if problem:
        raise ModelError(f"{path.name}: {problem}")
    explicit = config or sidecar_config(path)
    folder = explicit or config_folder(family)
    hints = {} if explicit else schedule_hints(path, family)
    try:
        pipe = _assemble(folder, state, dtype, hints)
    except ModelError:
        raise
    except Exception as error:
        raise ModelError(
            f"{path.name} looks like an {family} checkpoint but its weights do not fit the "
            f"{family} architecture. It may be a variant Studio does not know, or damaged."
        ) from error
    pipe.set_progress_bar_config(disable=True)
    return pipe


def schedule_hints(path: Path, family: str) -> dict[str, Any]:
    """SD 2.x comes as 768 px v-prediction (the shipped config) or 512 px "base" with epsilon
    prediction; the weights cannot tell them apart, the usual file names can."""
    name = path.stem.lower()
    if family == "SD 2.x" and ("512" in name or "base" in name):
        return {"prediction_type": "epsilon"}
    return {}


def _assemble(
    folder: Path, state: dict[str, Any], dtype: Any, schedule: dict[str, Any] | None = None
) -> Any:
    import diffusers
    from diffusers.loaders.single_file_utils import create_diffusers_clip_model_from_ldm

    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    pipeline_class = getattr(diffusers, index["_class_name"])
    parts: dict[str, Any] = {}
    for name, spec in index.items():
        if name.startswith("_"):
            continue
        if not isinstance(spec, list):
            parts[name] = spec  # a pipeline option such as force_zeros_for_empty_prompt
            continue
        if spec[0] is None:
            parts[name] = None
            continue
        cls = getattr(importlib.import_module(spec[0]), spec[1])
        if name.startswith("tokenizer"):
            parts[name] = load_tokenizer(folder, name)
        elif name == "scheduler":
            parts[name] = cls.from_pretrained(str(folder), subfolder=name, **(schedule or {}))
        elif name.startswith("text_encoder"):
            parts[name] = create_diffusers_clip_model_from_ldm(
                cls, checkpoint=state, subfolder=name, config=str(folder),
                torch_dtype=dtype, local_files_only=True,
            )
            _check_filled(parts[name], name)
        else:
            parts[name] = cls.from_single_file(
                state, config=str(folder), subfolder=name, torch_dtype=dtype,
                local_files_only=True,
            )
    return pipeline_class(**parts)


def _check_filled(model: Any, name: str) -> None:
    """A text encoder whose weights were not all in the file keeps meta tensors: say so."""
    empty = [n for n, p in model.named_parameters() if p.device.type == "meta"]
    if empty:
        raise ModelError(f"The checkpoint's {name} is incomplete: {len(empty)} weights missing.")


def load_tokenizer(folder: Path, name: str) -> Any:
    """The folder's own tokenizer if it has one, else CLIP's BPE vocabulary shipped with Studio."""
    from transformers import CLIPTokenizer

    sub = folder / name
    if (sub / "vocab.json").is_file() or (sub / "tokenizer.json").is_file():
        return CLIPTokenizer.from_pretrained(str(folder), subfolder=name)
    options = json.loads((sub / "tokenizer_config.json").read_text(encoding="utf-8"))
    shared = configs_dir() / CLIP_TOKENIZER
    return CLIPTokenizer(
        vocab=str(shared / "vocab.json"),
        merges=str(shared / "merges.txt"),
        pad_token=options.get("pad_token", "<|endoftext|>"),
        model_max_length=int(options.get("model_max_length", 77)),
    )
