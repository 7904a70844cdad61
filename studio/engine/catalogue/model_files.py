"""What a model folder holds, read cheaply: complete or not, size on disk, precision, variant.

Torch-free: only small JSON files and safetensors headers are read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from studio.engine.errors import ModelError

_CONFIG_ONLY = {"scheduler", "tokenizer", "tokenizer_2", "tokenizer_3", "feature_extractor"}
_NOT_LOADED = {"safety_checker"}  # the loader sets it to None


def is_runnable_pipeline(folder: Path) -> bool:
    """A text-to-image diffusers folder whose weights are all present (cheap: no file is read)."""
    index = read_json_object(folder / "model_index.json")
    from studio.engine.loading.pipelines import RUNNABLE_PIPELINES

    if index.get("_class_name") not in RUNNABLE_PIPELINES:
        return False
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or not spec or spec[0] is None:
            continue
        if name in _NOT_LOADED:
            continue
        sub = folder / name
        if not sub.is_dir():
            return False
        if name in _CONFIG_ONLY:
            continue
        if not (sub / "config.json").is_file() or not _weights_present(sub):
            return False
    return True


def weights_variant(folder: Path) -> str | None:
    """"fp16" (or another variant) when the folder holds only variant weights, else None.

    diffusers loads `diffusion_pytorch_model.fp16.safetensors` only when told the variant.
    """
    from studio.engine.hub.select import variant_of

    found: set[str | None] = set()
    for file in folder.glob("*/*.safetensors"):
        if file.parent.name not in _NOT_LOADED:
            found.add(variant_of(file.name))
    variants = {v for v in found if v is not None}
    return variants.pop() if len(variants) == 1 and None not in found else None


def disk_size(folder: Path) -> int:
    """Bytes on disk, following the cache's links to blobs and counting each file once."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                stat = os.stat(os.path.join(root, name))
            except OSError:
                continue  # a dangling link: not on disk
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def folder_precision(folder: Path) -> str:
    """The dtype holding most weight bytes, from the safetensors headers of the components."""
    from studio.engine.catalogue.checkpoints import precision_of, read_safetensors_header

    tensors: dict[str, tuple[str, tuple[int, ...]]] = {}
    for file in sorted(folder.glob("*/*.safetensors")):
        if file.parent.name in _NOT_LOADED:
            continue
        try:
            header = read_safetensors_header(file)
        except (ModelError, OSError, ValueError):
            continue
        tensors.update({f"{file.parent.name}/{file.name}/{k}": v for k, v in header.items()})
    precision = precision_of(tensors) if tensors else ""
    return "" if precision == "unknown" else precision


def _weights_present(sub: Path) -> bool:
    for index in sub.glob("*.safetensors.index*.json"):
        weight_map = read_json_object(index).get("weight_map")
        shards = set(weight_map.values()) if isinstance(weight_map, dict) else set()
        if shards and all(isinstance(s, str) and (sub / s).is_file() for s in shards):
            return True
    return any(p.is_file() for p in sub.glob("*.safetensors"))


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file's top-level object, or {} when the file is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # a hostile file may nest without end
        return {}
    return data if isinstance(data, dict) else {}
