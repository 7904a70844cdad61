"""Which files of a diffusers repo a text-to-image pipeline needs.

Repos often hold the same weights several times: pickles beside safetensors, fp16 and
fp32 copies, ONNX, Flax, a single-file checkpoint at the top. Studio fetches one
safetensors copy per component plus the small config files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Components the loader sets to None: the safety checker alone is about 1.2 GB.
SKIPPED_COMPONENTS = frozenset({"safety_checker"})
TOP_LEVEL_FILES = frozenset({"model_index.json", "README.md", "LICENSE", "LICENSE.md", "LICENSE.txt"})
CONFIG_SUFFIXES = (".json", ".txt", ".model", ".tiktoken")
WEIGHT_SUFFIXES = (
    ".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".msgpack", ".h5", ".onnx", ".onnx_data", ".pb",
)
PREFERRED_VARIANTS = (None, "fp16", "bf16")

_SHARDED = r"(?:-\d{5}-of-\d{5})?"
_WEIGHT = re.compile(rf"^[^.]+(?:\.(?P<variant>[A-Za-z0-9_]+))?{_SHARDED}\.safetensors$")
_INDEX = re.compile(r"^[^.]+\.safetensors\.index(?:\.(?P<variant>[A-Za-z0-9_]+))?\.json$")


class SelectionError(Exception):
    """The repo holds no loadable text-to-image pipeline; the message says why."""


@dataclass(frozen=True)
class Selection:
    keep: tuple[str, ...]
    skipped: tuple[str, ...]
    variants: dict[str, str | None]  # component -> the weights variant kept


def components(model_index: dict[str, Any]) -> list[str]:
    """The pipeline's component folders (those with a class, not None)."""
    return [
        name
        for name, spec in model_index.items()
        if not name.startswith("_") and isinstance(spec, list) and spec and spec[0] is not None
    ]


def select_files(paths: Iterable[str], model_index: dict[str, Any]) -> Selection:
    wanted = [c for c in components(model_index) if c not in SKIPPED_COMPONENTS]
    by_component: dict[str, list[str]] = {c: [] for c in wanted}
    keep: list[str] = []
    skipped: list[str] = []
    for path in sorted(paths):
        head, _, rest = path.partition("/")
        if not rest:
            (keep if path in TOP_LEVEL_FILES else skipped).append(path)
        elif head in by_component:
            by_component[head].append(path)
        else:
            skipped.append(path)
    variants: dict[str, str | None] = {}
    for component, files in by_component.items():
        chosen, variant = _component_files(component, files)
        keep.extend(chosen)
        skipped.extend(f for f in files if f not in chosen)
        variants[component] = variant
    return Selection(tuple(sorted(keep)), tuple(sorted(skipped)), variants)


def _component_files(component: str, files: list[str]) -> tuple[list[str], str | None]:
    configs = [f for f in files if f.endswith(CONFIG_SUFFIXES) and not _INDEX.match(_name(f))]
    weights = [f for f in files if _name(f).endswith(WEIGHT_SUFFIXES) or _INDEX.match(_name(f))]
    if not weights:
        return configs, None
    by_variant: dict[str | None, list[str]] = {}
    for f in weights:
        match = _WEIGHT.match(_name(f)) or _INDEX.match(_name(f))
        if match and "/" not in f[len(component) + 1 :]:
            by_variant.setdefault(match["variant"], []).append(f)
    if not by_variant:
        raise SelectionError(
            f"The {component} weights of this model are stored only as pickle or other non-"
            "safetensors files, which can run code when loaded. Studio downloads safetensors only; "
            "look for a version of the model with .safetensors files."
        )
    ranked = [v for v in PREFERRED_VARIANTS if v in by_variant] or sorted(
        by_variant, key=lambda v: v or ""
    )
    variant = ranked[0]
    return configs + by_variant[variant], variant


def variant_of(file_name: str) -> str | None:
    """"fp16" for `diffusion_pytorch_model.fp16.safetensors`, None for the plain name."""
    match = _WEIGHT.match(file_name) or _INDEX.match(file_name)
    return match["variant"] if match else None


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]
