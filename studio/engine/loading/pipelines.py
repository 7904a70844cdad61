"""Loading text-to-image pipelines from local folders and checkpoint files, offline, and
caching them warm."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.catalogue.checkpoints import PickleConsent
from studio.engine.errors import ModelError
from studio.engine.loading.memory import (
    MemoryOptions,
    MemoryPlan,
    apply_memory_plan,
    free_memory,
    model_bytes,
    plan_memory,
)

TEXT_TO_IMAGE_PIPELINES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusion3Pipeline",
    "FluxPipeline",
)
_WEIGHT_NAMES = (
    "diffusion_pytorch_model.safetensors",
    "model.safetensors",
    "diffusion_pytorch_model.fp16.safetensors",
    "model.fp16.safetensors",
)
_PICKLE_NAMES = ("diffusion_pytorch_model.bin", "pytorch_model.bin")
_NEVER_LOADED = {"safety_checker", "feature_extractor"}
_CONFIG_ONLY = {"scheduler", "tokenizer", "tokenizer_2", "tokenizer_3", "feature_extractor"}


def check_model_folder(folder: Path) -> dict[str, Any]:
    """The folder's model_index.json if the folder looks loadable, else ModelError saying why.

    Reads only JSON and safetensors headers, so a broken folder fails fast and by name.
    """
    if not folder.exists():
        raise ModelError(f"The model folder {folder} does not exist.")
    if not folder.is_dir():
        raise ModelError(f"{folder} is a file, not a model folder (a folder with model_index.json).")
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        raise ModelError(
            f"{folder} is not a diffusers model folder: it has no model_index.json."
        )
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelError(f"{index_file} is damaged and cannot be read: {error}") from None
    if not isinstance(index, dict):
        raise ModelError(f"{index_file} is damaged: it does not describe a pipeline.")
    pipeline = index.get("_class_name")
    if pipeline not in TEXT_TO_IMAGE_PIPELINES:
        raise ModelError(
            f"{folder.name} is a {pipeline or 'unknown'} model; Studio runs these text-to-image "
            f"pipelines: {', '.join(TEXT_TO_IMAGE_PIPELINES)}."
        )
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or spec[0] is None:
            continue
        if name in _NEVER_LOADED and not (folder / name).is_dir():
            continue  # Studio passes None for these, so downloads skip them
        _check_component(folder, name)
    return index


def _check_component(folder: Path, name: str) -> None:
    sub = folder / name
    if not sub.is_dir():
        raise ModelError(f"The model {folder.name} is incomplete: the {name}/ folder is missing.")
    if name in _CONFIG_ONLY:
        if not any(sub.iterdir()):
            raise ModelError(f"The model {folder.name} is incomplete: {name}/ is empty.")
        return
    if not (sub / "config.json").is_file():
        raise ModelError(f"The model {folder.name} is incomplete: {name}/config.json is missing.")
    weights = [sub / w for w in _WEIGHT_NAMES if (sub / w).is_file()]
    weights += sorted(sub.glob("*.safetensors.index.json"))
    if not weights:
        if any((sub / p).is_file() for p in _PICKLE_NAMES):
            raise ModelError(
                f"The model {folder.name} stores {name} as a pickle (.bin) file, which can run "
                "code when loaded. Studio loads safetensors only; convert it to .safetensors."
            )
        raise ModelError(f"The model {folder.name} is incomplete: {name}/ has no weights file.")
    for file in weights:
        if file.name.endswith(".safetensors"):
            _check_safetensors(folder, file)


def _check_safetensors(folder: Path, file: Path) -> None:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as handle:
            handle.keys()
    except Exception as error:  # safetensors raises several types for damaged files
        rel = file.relative_to(folder)
        raise ModelError(
            f"The weights file {rel} of the model {folder.name} is damaged ({error}). "
            "Download or copy it again."
        ) from None


@dataclass(frozen=True)
class LoadRecord:
    """One pipeline load: what, how long, and the memory plan it got."""

    path: str
    seconds: float
    plan: MemoryPlan
    weights_bytes: int


class PipelineCache:
    """A warm cache of up to `capacity` pipelines, keyed by (model path, device, dtype, options).

    The least recently used pipeline goes first; its device memory is given back at once.
    `loads` records every load, so the model switch time is measured where it happens.
    """

    def __init__(
        self,
        capacity: int = 1,
        *,
        memory: MemoryOptions | None = None,
        consent: PickleConsent | None = None,
    ) -> None:
        self.capacity = max(1, capacity)
        self.memory = memory or MemoryOptions()
        self.consent = consent
        self.loads: list[LoadRecord] = []
        self.hits = 0
        self._pipes: OrderedDict[tuple[str, str, str, MemoryOptions], Any] = OrderedDict()

    def get(self, path: Path, device: str, dtype: Any, family: str = "other") -> Any:
        key = (str(path.resolve()), device, str(dtype), self.memory)
        if key in self._pipes:
            self._pipes.move_to_end(key)
            self.hits += 1
            return self._pipes[key]
        # Make room first, so the old model's memory is free before the new one loads.
        while len(self._pipes) >= self.capacity:
            _, evicted = self._pipes.popitem(last=False)
            _free(evicted)
        started = time.perf_counter()
        pipe = load_pipeline(path, device, dtype, memory=self.memory, consent=self.consent,
                             family=family)
        self.loads.append(LoadRecord(
            key[0], time.perf_counter() - started, pipe.studio_memory_plan,
            getattr(pipe, "studio_weights_bytes", 0),
        ))
        self._pipes[key] = pipe
        return pipe

    def __len__(self) -> int:
        return len(self._pipes)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, Path) and any(k[0] == str(path.resolve()) for k in self._pipes)

    def clear(self) -> None:
        while self._pipes:
            _free(self._pipes.popitem()[1])


def load_pipeline(
    path: Path,
    device: str,
    dtype: Any,
    *,
    memory: MemoryOptions | None = None,
    consent: PickleConsent | None = None,
    family: str = "other",
) -> Any:
    """A text-to-image pipeline from a local folder or checkpoint file, offline, without a
    safety checker, with the memory options applied and placed on `device`."""
    if path.is_file():
        from studio.engine.loading.single_file import load_single_file

        pipe = load_single_file(path, dtype, consent=consent)
    else:
        pipe = _load_folder(path, dtype)
    weights = model_bytes(pipe)
    plan = plan_memory(memory or MemoryOptions(), device, model_bytes=weights, family=family,
                       memory=free_memory(device))
    pipe = apply_memory_plan(pipe, plan, device)
    pipe.studio_memory_plan = plan
    pipe.studio_weights_bytes = weights
    return pipe


def _load_folder(folder: Path, dtype: Any) -> Any:
    index = check_model_folder(folder)
    import diffusers

    from studio.engine.catalogue.model_files import weights_variant

    cls = getattr(diffusers, index["_class_name"])
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "local_files_only": True,
        "use_safetensors": True,
    }
    if "safety_checker" in index:
        kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    variant = weights_variant(folder)
    if variant:
        kwargs["variant"] = variant  # diffusers loads fp16-only folders only when told
    try:
        pipe = cls.from_pretrained(str(folder), **kwargs)
    except ModelError:
        raise
    except Exception as error:
        raise ModelError(f"The model {folder.name} could not be loaded: {error}") from error
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _free(pipe: Any) -> None:
    """Drop a pipeline and give its device memory back (offload hooks hold references)."""
    import gc

    import torch

    remove_hooks = getattr(pipe, "remove_all_hooks", None)
    if remove_hooks is not None:
        remove_hooks()
    for component in list(getattr(pipe, "components", {}).values()):
        if isinstance(component, torch.nn.Module):
            component.to("meta")
    del pipe
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
