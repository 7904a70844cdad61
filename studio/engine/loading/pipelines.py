"""Loading text-to-image pipelines from local folders and checkpoint files, offline, and
caching them warm."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.catalogue.checkpoints import CHECKPOINT_SUFFIXES, PickleConsent, safetensors_damage
from studio.engine.errors import ModelError
from studio.engine.loading.memory import (
    MemoryOptions,
    MemoryPlan,
    apply_memory_plan,
    free_memory,
    model_bytes,
    plan_memory,
)

# The pipelines a model folder may name: text-to-image ones, and the inpainting models of
# SD 1.x/2.x and SDXL (their UNets take the mask and the masked picture as 5 more channels).
RUNNABLE_PIPELINES = (
    "StableDiffusionPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusion3Pipeline",
    "FluxPipeline",
    "StableDiffusionInpaintPipeline",
    "StableDiffusionXLInpaintPipeline",
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


# The parts each pipeline cannot run without (Studio passes prompts as text, so the text
# encoders count). Checked before loading, so a folder missing one fails by name.
REQUIRED_PARTS = {
    "StableDiffusionPipeline": ("unet", "vae", "text_encoder", "tokenizer", "scheduler"),
    "StableDiffusionXLPipeline": ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer",
                                  "tokenizer_2", "scheduler"),
    "StableDiffusion3Pipeline": ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer",
                                 "tokenizer_2", "scheduler"),
    "FluxPipeline": ("transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer",
                     "tokenizer_2", "scheduler"),
}
REQUIRED_PARTS["StableDiffusionInpaintPipeline"] = REQUIRED_PARTS["StableDiffusionPipeline"]
REQUIRED_PARTS["StableDiffusionXLInpaintPipeline"] = REQUIRED_PARTS["StableDiffusionXLPipeline"]
_LIBRARIES = ("diffusers", "transformers")
_MAX_CONFIG_BYTES = 16 * 1024 * 1024  # far past any real config; a bigger file is not one


def check_model_folder(folder: Path) -> dict[str, Any]:
    """The folder's model_index.json if the folder looks loadable, else ModelError saying why.

    Reads only JSON and safetensors headers (no torch), so a broken folder fails fast and by name.
    """
    if not folder.exists():
        raise ModelError(f"The model folder {folder} does not exist.")
    if not folder.is_dir():
        raise ModelError(f"{folder} is a file, not a model folder (a folder with model_index.json).")
    if not (folder / "model_index.json").is_file():
        if folder.suffix.lower() in CHECKPOINT_SUFFIXES:
            raise ModelError(
                f"{folder.name} is a folder, not a checkpoint file, and not a diffusers model "
                "folder either (it has no model_index.json)."
            )
        raise ModelError(f"{folder} is not a diffusers model folder: it has no model_index.json.")
    index = _json_object(folder, "model_index.json", "does not describe a pipeline")
    pipeline = index.get("_class_name")
    if isinstance(pipeline, list):  # [module, class]: a pipeline class shipped as code
        raise ModelError(_custom_code(folder, pipeline))
    if pipeline not in RUNNABLE_PIPELINES:
        shown = pipeline if isinstance(pipeline, str | int | float) else "unknown"
        raise ModelError(
            f"{folder.name} is a {_short(str(shown))} model; Studio runs these "
            f"pipelines: {', '.join(RUNNABLE_PIPELINES)}."
        )
    required = REQUIRED_PARTS[str(pipeline)]
    for name in required:
        if name not in index:
            raise ModelError(_missing_part(folder, name, str(pipeline)))
    for name, spec in index.items():
        if name.startswith("_"):
            continue
        if not isinstance(spec, list):
            if name in required or (folder / name).is_dir():
                raise ModelError(_malformed(folder, name, spec))
            continue  # a pipeline option such as requires_safety_checker
        if len(spec) != 2:
            raise ModelError(_malformed(folder, name, spec))
        library, class_name = spec
        if library is None:
            if name in required:
                raise ModelError(_missing_part(folder, name, str(pipeline)))
            continue
        if not isinstance(library, str) or not isinstance(class_name, str):
            raise ModelError(_malformed(folder, name, spec))
        if name in _NEVER_LOADED and not (folder / name).is_dir():
            continue  # Studio passes None for these, so downloads skip them
        if name not in _NEVER_LOADED and _is_custom_code(folder, name, library):
            raise ModelError(_custom_code(folder, spec))
        _check_component(folder, name, library, class_name)
    return index


def _check_component(folder: Path, name: str, library: str, class_name: str) -> None:
    sub = folder / name
    if not sub.is_dir():
        raise ModelError(f"The model {folder.name} is incomplete: the {name}/ folder is missing.")
    if name in _CONFIG_ONLY:
        if not any(sub.iterdir()):
            raise ModelError(f"The model {folder.name} is incomplete: {name}/ is empty.")
        if name == "scheduler":
            if not (sub / "scheduler_config.json").is_file():
                raise ModelError(
                    f"The model {folder.name} is incomplete: scheduler/scheduler_config.json is missing."
                )
            _json_object(folder, "scheduler/scheduler_config.json", "does not describe a scheduler")
        return
    if not (sub / "config.json").is_file():
        raise ModelError(f"The model {folder.name} is incomplete: {name}/config.json is missing.")
    config = _json_object(folder, f"{name}/config.json", "does not describe a model part")
    auto_map = config.get("auto_map")
    if auto_map is not None or (library == "transformers" and class_name.startswith("Auto")):
        # transformers' Auto classes follow auto_map to Python files that ship with the model.
        code = next((v for v in auto_map.values() if isinstance(v, str)), "") if isinstance(auto_map, dict) else ""
        raise ModelError(_custom_code(folder, code.rsplit(".", 1) if code else [library, class_name]))
    described = config.get("_class_name")
    if library == "diffusers" and isinstance(described, str) and described != class_name:
        raise ModelError(
            f"The model {folder.name} is damaged: model_index.json says its {name} is "
            f"{_short(class_name)}, which does not fit the {_short(described)} that "
            f"{name}/config.json describes."
        )
    weights = [sub / w for w in _WEIGHT_NAMES if (sub / w).is_file()]
    for shard_index in sorted(sub.glob("*.safetensors.index.json")):
        weights += _shards(folder, shard_index)
    if not weights:
        if any((sub / p).is_file() for p in _PICKLE_NAMES):
            raise ModelError(
                f"The model {folder.name} stores {name} as a pickle (.bin) file, which can run "
                "code when loaded. Studio loads safetensors only; convert it to .safetensors."
            )
        raise ModelError(f"The model {folder.name} is incomplete: {name}/ has no weights file.")
    for file in weights:
        damage = safetensors_damage(file)
        if damage:
            raise ModelError(
                f"The weights file {file.relative_to(folder)} of the model {folder.name} is "
                f"damaged: {damage}. Download or copy it again."
            )


def _shards(folder: Path, shard_index: Path) -> list[Path]:
    """The weight files a sharded index lists, each of which must be there."""
    rel = shard_index.relative_to(folder)
    weight_map = _json_object(folder, str(rel), "does not list the weight files").get("weight_map")
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ModelError(
            f"The model {folder.name} cannot be read: its {rel} is damaged (it does not list the weight files)."
        )
    shards = [shard_index.parent / Path(name).name for name in sorted(set(weight_map.values()))]
    for shard in shards:
        if not shard.is_file():
            raise ModelError(
                f"The model {folder.name} is incomplete: {shard.relative_to(folder)} is missing."
            )
    return shards


def _json_object(folder: Path, rel: str, not_object: str) -> dict[str, Any]:
    """A JSON file of the model folder as a dict, or ModelError saying what is wrong with it."""
    file = folder / rel
    damaged = f"The model {folder.name} cannot be read: its {rel} is damaged"
    try:
        if file.stat().st_size > _MAX_CONFIG_BYTES:
            raise ModelError(f"{damaged} (it is far too large to be a config file).")
        data = json.loads(file.read_bytes().decode("utf-8"))
    except OSError as error:
        raise ModelError(
            f"The model {folder.name} cannot be read: {rel} ({error.strerror or 'input/output error'})."
        ) from None
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ModelError(f"{damaged} (it is not valid JSON). Download or copy it again.") from None
    if not isinstance(data, dict):
        raise ModelError(f"{damaged} (it {not_object}).")
    return data


def _is_custom_code(folder: Path, name: str, library: str) -> bool:
    """True when a part names a class from outside diffusers and transformers: code shipped with
    the model, which diffusers would only run with trust_remote_code."""
    if library in _LIBRARIES:
        return False
    if (folder / name / f"{library}.py").is_file() or not library.isidentifier():
        return True
    return not _is_diffusers_pipeline_module(library)


def _is_diffusers_pipeline_module(name: str) -> bool:
    """Older folders name a part's library by its diffusers pipeline module ("stable_diffusion")."""
    import importlib.util

    spec = importlib.util.find_spec("diffusers")  # finds the package without importing it
    roots = spec.submodule_search_locations if spec is not None else None
    if not roots:
        return False
    pipelines = Path(next(iter(roots))) / "pipelines"
    return (pipelines / name).is_dir() or (pipelines / f"{name}.py").is_file()


def _custom_code(folder: Path, spec: list[Any]) -> str:
    where = ".".join(_short(str(part), 40) for part in spec)
    return (
        f"The model {folder.name} needs custom code ({where}), which Studio does not run: it "
        "loads only the diffusers and transformers classes it knows. Use a model in the "
        "standard diffusers layout."
    )


def _missing_part(folder: Path, name: str, pipeline: str) -> str:
    return f"The model {folder.name} is incomplete: it has no {name}, which a {pipeline} needs."


def _malformed(folder: Path, name: str, spec: object) -> str:
    return (
        f"The model {folder.name} is damaged: model_index.json should name the library and class "
        f"of its {name}, not {_short(json.dumps(spec))}."
    )


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit and text.isprintable() else repr(text[:limit])


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

    _check_classes(folder, index)
    cls = getattr(diffusers, index["_class_name"])
    kwargs: dict[str, Any] = {
        "dtype": dtype,
        "local_files_only": True,
        "use_safetensors": True,
        "trust_remote_code": False,
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
        raise ModelError(_load_failure(folder, error)) from error
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _check_classes(folder: Path, index: dict[str, Any]) -> None:
    """Each part names a class its library has (check_model_folder already refused custom code)."""
    import importlib

    for name, spec in index.items():
        if name.startswith("_") or name in _NEVER_LOADED or not isinstance(spec, list):
            continue
        library, class_name = spec
        if library not in _LIBRARIES:
            continue  # a diffusers pipeline module of an older folder: diffusers resolves it
        if getattr(importlib.import_module(library), class_name, None) is None:
            raise ModelError(
                f"The model {folder.name} is damaged: its {name} is {_short(class_name)}, which "
                f"{library} does not have. The model may need a newer diffusers, or be damaged."
            )


def _load_failure(folder: Path, error: Exception) -> str:
    """A sentence for a load diffusers refused: its first line, never a remote-code offer."""
    text = str(error)
    if "trust_remote_code" in text:
        return _custom_code(folder, ["custom", "code"]).replace(" (custom.code)", "")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    first = first.rstrip(".:")
    if len(first) > 200:
        first = first[:199] + "…"
    reason = f": {first}" if first else ""
    return (
        f"The model {folder.name} could not be loaded{reason}. Its files may be damaged, or made "
        "for another version of diffusers."
    )


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
