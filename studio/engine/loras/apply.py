"""LoRA files on a pipeline as PEFT adapters: each file loaded once, weights switched without
reloading, and nothing of them left in the way of a run without LoRAs.

diffusers reads the file (its own layout, PEFT's, and kohya's `lora_unet_…`/`lora_te…` layout,
converted on load) and places it with PEFT; Studio keeps which files a pipeline holds, counts
how much of each file found a layer of the model, and picks the active set and weights per run.
Disabled adapters leave every layer computing exactly its base weights, so a run without LoRAs
gives the pixels it gave before any was loaded.
"""

from __future__ import annotations

import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STATE = "_studio_loras"
KEPT_ADAPTERS = 8  # files held per pipeline; the least recently used beyond this are unloaded
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".ckpt", ".bin"})
_MODULE_KEY = re.compile(r"^(.*?)\.(?:lora_A|lora_B|lora\.down|lora\.up|lora_linear_layer\.down|"
                         r"lora_linear_layer\.up|lora_down|lora_up)\.weight$")
_TEXT_COMPONENTS = ("text_encoder", "text_encoder_2", "text_encoder_3")


@dataclass(frozen=True)
class LoraUse:
    """One LoRA file for a run, with its weight on the denoiser and on the text encoders."""

    name: str
    path: Path
    weight: float = 1.0
    text_weight: float = 1.0


class LoraNotApplied(Exception):
    """A LoRA file that could not be placed on the model; the message says why, in words."""

    def __init__(self, name: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.details = details  # the library's own words, for a bug report


@dataclass
class _Loaded:
    adapter: str
    placed: int  # layers of the model the file's LoRA layers were put on
    in_file: int  # LoRA layers the file holds
    components: frozenset[str]


class _PipelineLoras:
    """What one pipeline holds: file fingerprint -> its adapter, least recently used first."""

    def __init__(self) -> None:
        self.loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self.active: tuple[tuple[str, float, float], ...] = ()
        self.fused: list[tuple[Any, Any]] = []  # (layer, its base weight before fusing)
        self.counter = 0


def text_adapter_state(pipe: Any) -> tuple[tuple[str, float], ...]:
    """The adapters that change the text encoders now, with their weights: part of the key of
    anything cached from the text encoders' output."""
    state: _PipelineLoras | None = pipe.__dict__.get(_STATE)
    if state is None:
        return ()
    text_parts = {entry.adapter for entry in state.loaded.values() if entry.components & set(_TEXT_COMPONENTS)}
    return tuple((adapter, text) for adapter, _, text in state.active if adapter in text_parts and text != 0)


def activate(pipe: Any, uses: list[LoraUse], allowed_pickle: Any = None, *, fuse: bool = False) -> list[str]:
    """Make exactly `uses` active on `pipe` at their weights, loading files it does not hold yet.
    Returns notices for files that only partly fit. Raises LoraNotApplied for a file that cannot
    be read or holds nothing this model has. `allowed_pickle(path) -> bool` says whether a
    pickle file may be opened; without it, none is. `fuse` merges the active LoRAs into the
    weights, so a step costs what it costs without them; the base weights are kept aside and
    put back exactly when the set or a weight changes."""
    state: _PipelineLoras = pipe.__dict__.setdefault(_STATE, _PipelineLoras())
    notices: list[str] = []
    wanted: list[tuple[str, float, float]] = []
    for use in uses:
        entry = _load(pipe, state, use, allowed_pickle)
        if entry.placed < entry.in_file:
            notices.append(
                f"The LoRA “{use.name}” fits this model only in part: {entry.placed} of its "
                f"{entry.in_file} layers were applied, the rest match no layer of the model (it may "
                "be made for another model version).")
        wanted.append((entry.adapter, float(use.weight), float(use.text_weight)))
    _evict(pipe, state, {adapter for adapter, _, _ in wanted})
    _switch(pipe, state, tuple(wanted), fuse)
    return notices


def loaded_adapters(pipe: Any) -> list[str]:
    """The adapter names `pipe` holds, least recently used first."""
    state: _PipelineLoras | None = pipe.__dict__.get(_STATE)
    return [entry.adapter for entry in state.loaded.values()] if state else []


def _fingerprint(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _load(pipe: Any, state: _PipelineLoras, use: LoraUse, allowed_pickle: Any) -> _Loaded:
    try:
        key = _fingerprint(use.path)
    except OSError as error:
        raise LoraNotApplied(use.name, f"The LoRA file {use.path} cannot be read: it was moved or deleted, "
                             "or Studio may not open it.", _details(error)) from None
    if key in state.loaded:
        state.loaded.move_to_end(key)
        return state.loaded[key]
    _unfuse(pipe, state)  # a file joins unmerged layers only
    if use.path.suffix.lower() in PICKLE_SUFFIXES and not (allowed_pickle and allowed_pickle(use.path)):
        raise LoraNotApplied(use.name, f"The LoRA “{use.name}” is a pickle file ({use.path.name}), which can run "
                             "code when opened; allow it in the models page first, or use a .safetensors copy.")
    try:
        state_dict, _ = pipe.lora_state_dict(str(use.path))
    except Exception as error:  # any reader failure is a file Studio cannot use, said in words
        raise LoraNotApplied(use.name, f"The LoRA “{use.name}” ({use.path.name}) is not a LoRA file Studio can "
                             "read: it is damaged, cut short, or another kind of file.", _details(error)) from None
    in_file = len({m.group(1) for k in state_dict if (m := _MODULE_KEY.match(k))})
    state.counter += 1
    adapter = f"lora{state.counter}"
    before = _placed_layers(pipe, adapter)
    try:
        with warnings.catch_warnings():
            # PEFT warns whenever a second adapter joins a model; holding several is the point.
            warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
            pipe.load_lora_weights(str(use.path), adapter_name=adapter)
    except Exception as error:
        _unload(pipe, adapter)
        raise LoraNotApplied(use.name, f"The LoRA “{use.name}” does not fit this model: its layers have other "
                             "shapes than the model's (it is probably made for another model family).",
                             _details(error)) from None
    placed = _placed_layers(pipe, adapter) - before
    components = frozenset(_components_with(pipe, adapter))
    if placed == 0:
        _unload(pipe, adapter)
        raise LoraNotApplied(use.name, f"The LoRA “{use.name}” has no layer that matches this model; it is "
                             "probably made for another model family.")
    entry = _Loaded(adapter, placed, max(in_file, placed), components)
    state.loaded[key] = entry
    return entry


def _switch(pipe: Any, state: _PipelineLoras, wanted: tuple[tuple[str, float, float], ...], fuse: bool) -> None:
    if wanted == state.active and bool(state.fused) == (fuse and bool(wanted)):
        return
    _unfuse(pipe, state)
    if not wanted:
        if state.loaded:
            pipe.disable_lora()
        state.active = ()
        return
    pipe.enable_lora()
    weights = [{"unet": w, "transformer": w, **dict.fromkeys(_TEXT_COMPONENTS, t)} for _, w, t in wanted]
    names = [adapter for adapter, _, _ in wanted]
    weights = [{k: v for k, v in weight.items() if k in pipe._lora_loadable_modules} for weight in weights]
    pipe.set_adapters(names, weights)
    state.active = wanted
    if fuse:
        _fuse(pipe, state, names)


def _fuse(pipe: Any, state: _PipelineLoras, names: list[str]) -> None:
    layers = [m for _, m in _lora_modules(pipe) if any(n in getattr(m, "lora_A", {}) for n in names)]
    state.fused = [(m, m.get_base_layer().weight.detach().clone()) for m in layers]
    components = [c for c in pipe._lora_loadable_modules if getattr(pipe, c, None) is not None]
    pipe.fuse_lora(components=components, adapter_names=names)


def _unfuse(pipe: Any, state: _PipelineLoras) -> None:
    """Undoes a fuse. Subtracting the merged change again leaves rounding in the weights, so
    the kept copies are put back: the base pixels stay exact."""
    if not state.fused:
        return
    import torch

    components = [c for c in pipe._lora_loadable_modules if getattr(pipe, c, None) is not None]
    pipe.unfuse_lora(components=components)
    with torch.no_grad():
        for layer, weight in state.fused:
            layer.get_base_layer().weight.copy_(weight)
    state.fused = []


def _evict(pipe: Any, state: _PipelineLoras, keep: set[str]) -> None:
    while len(state.loaded) > KEPT_ADAPTERS:
        victim = next((k for k, e in state.loaded.items() if e.adapter not in keep), None)
        if victim is None:
            return
        _unfuse(pipe, state)
        _unload(pipe, state.loaded.pop(victim).adapter)
        state.active = tuple(a for a in state.active if a[0] in keep)


def _unload(pipe: Any, adapter: str) -> None:
    if adapter in {name for names in pipe.get_list_adapters().values() for name in names}:
        pipe.delete_adapters(adapter)


def _lora_modules(pipe: Any) -> list[tuple[str, Any]]:
    from peft.tuners.tuners_utils import BaseTunerLayer

    found: list[tuple[str, Any]] = []
    for component in ("unet", "transformer", *_TEXT_COMPONENTS):
        model = getattr(pipe, component, None)
        if model is None:
            continue
        found.extend((component, m) for m in model.modules() if isinstance(m, BaseTunerLayer))
    return found


def _placed_layers(pipe: Any, adapter: str) -> int:
    return sum(1 for _, module in _lora_modules(pipe) if adapter in getattr(module, "lora_A", {}))


def _components_with(pipe: Any, adapter: str) -> set[str]:
    return {component for component, module in _lora_modules(pipe) if adapter in getattr(module, "lora_A", {})}


def _details(error: Exception) -> str:
    text = f"{type(error).__name__}: {error}"
    return text[:2000]
