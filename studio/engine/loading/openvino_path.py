"""The fast path on the CPU through OpenVINO: the UNet and the VAE decoder converted once to
OpenVINO's form (kept in Studio's cache folder, so a second start only compiles) and run by
OpenVINO's CPU runtime at full fp32 precision, inside the same diffusers pipeline. The
scheduler, the previews, the prompt syntax and the step callbacks stay Studio's own; only
the two networks' arithmetic moves.

A call the converted network cannot stand for runs on torch as before: a UNet with LoRA
layers switched on or merged in, ControlNet residuals, attention arguments, another dtype or
device. Cancel is checked between steps here (the UNet's blocks run inside OpenVINO).

OpenVINO's converter sends usage telemetry unless it is told not to; Studio never lets it
load its telemetry module, so nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

_INSTALLED = "_studio_openvino"
_KEPT_CONVERSIONS = 3  # converted models kept in the cache folder, most recently used first
_UNET_INPUTS = ("sample", "timestep", "encoder_hidden_states")
_SDXL_INPUTS = ("text_embeds", "time_ids")


def openvino_available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def _openvino() -> Any:
    # the converter falls back to its own no-op stub when its telemetry package cannot be imported
    sys.modules.setdefault("openvino_telemetry", None)  # type: ignore[arg-type]
    import openvino

    return openvino


def takes_openvino(pipe: Any) -> bool:
    """Whether `pipe` can run its UNet through OpenVINO here: a UNet2DConditionModel (SD 1.x,
    2.x, SDXL and their inpainting models), in fp32, on the CPU, with OpenVINO installed."""
    import torch

    unet = getattr(pipe, "unet", None)
    if unet is None or type(unet).__name__ != "UNet2DConditionModel" or not openvino_available():
        return False
    if unet.config.addition_embed_type not in (None, "text_time") or unet.config.class_embed_type is not None:
        return False
    return bool(unet.device.type == "cpu" and unet.dtype == torch.float32)


class OpenVinoPath:
    """Puts a pipeline's UNet and VAE decoder on OpenVINO. `notify` is called before a
    conversion or compile, which the run waits for; `skipped` collects, per run, why a call
    stayed on torch."""

    def __init__(self, cache_dir: Path | None, notify: Callable[[], None]) -> None:
        self._cache_dir = Path(cache_dir) / "openvino" if cache_dir is not None else None
        self._notify = notify
        self.skipped: set[str] = set()
        self.conversions = 0  # conversions made in this process (a cached one is not counted)
        self.calls: Counter[str] = Counter()  # network calls OpenVINO ran, by part

    def install(self, pipe: Any, source: Path | None) -> list[str]:
        unet = pipe.unet
        if getattr(unet, _INSTALLED, None) is not None:
            return []
        stamp = _weights_stamp(source)
        done = ["OpenVINO UNet (fp32)"]
        object.__setattr__(unet, _INSTALLED, _Converted(self, unet, "unet", stamp, _unet_inputs(unet)))
        unet.forward = _unet_forward(self, unet, unet.forward, getattr(unet, _INSTALLED))
        decoder = getattr(getattr(pipe, "vae", None), "decoder", None)
        if decoder is not None and getattr(decoder, _INSTALLED, None) is None:
            converted = _Converted(self, decoder, "vae-decoder", stamp, ("sample",))
            object.__setattr__(decoder, _INSTALLED, converted)
            decoder.forward = _decoder_forward(decoder.forward, converted)
            done.append("OpenVINO VAE decoder (fp32)")
        return done

    def folder_for(self, key: str) -> Path | None:
        return self._cache_dir / key if self._cache_dir is not None else None


class _Converted:
    """One network's OpenVINO form, converted at its first call (from that call's inputs,
    whose shapes are left dynamic) or read back from the cache folder."""

    def __init__(self, owner: OpenVinoPath, module: Any, part: str, stamp: str, inputs: tuple[str, ...]) -> None:
        self._owner = owner
        self._module = module
        self._part = part
        self._stamp = stamp
        self._inputs = inputs
        self._compiled: dict[str, Any] = {}  # variant -> compiled model

    def __call__(self, variant: str, tensors: tuple[Any, ...]) -> Any:
        import torch

        compiled = self._compiled.get(variant) or self._load(variant, tensors)
        self._owner.calls[self._part] += 1
        arrays = [t.detach().contiguous().numpy() for t in tensors]
        return torch.from_numpy(compiled(arrays)[0])

    def _load(self, variant: str, tensors: tuple[Any, ...]) -> Any:
        openvino = _openvino()
        self._owner._notify()
        key = self._key(variant, openvino.__version__)
        folder = self._owner.folder_for(key)
        xml = folder / "model.xml" if folder is not None else None
        model = None
        if xml is not None and xml.is_file():
            try:
                model = openvino.Core().read_model(str(xml))
                os.utime(xml.parent)  # most recently used: kept when the folder is trimmed
            except Exception:  # a damaged or partial copy: converted again below
                model = None
        if model is None:
            model = self._convert(openvino, tensors)
            if folder is not None:
                _save(openvino, model, folder)
        compiled = openvino.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        self._compiled[variant] = compiled
        return compiled

    def _convert(self, openvino: Any, tensors: tuple[Any, ...]) -> Any:
        import torch

        wrapper = _positional(self._module, self._inputs, self._part)
        with torch.no_grad(), warnings.catch_warnings():
            # the tracer warns of each shape branch it fixes; those that matter are variants here
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            model = openvino.convert_model(wrapper, example_input=tuple(t.detach() for t in tensors))
        for port, name in zip(model.inputs, self._inputs, strict=True):
            port.get_tensor().set_names({name})
        self._owner.conversions += 1
        return model

    def _key(self, variant: str, openvino_version: str) -> str:
        import diffusers
        import torch

        config = dict(getattr(self._module, "config", {}) or {}) if self._part == "unet" else {}
        described = json.dumps(
            {"part": self._part, "variant": variant, "weights": self._stamp, "config": config,
             "inputs": self._inputs, "openvino": openvino_version, "torch": torch.__version__,
             "diffusers": diffusers.__version__},
            sort_keys=True, default=str)
        return hashlib.sha256(described.encode()).hexdigest()[:24]


def _positional(module: Any, inputs: tuple[str, ...], part: str) -> Any:
    """The network as a module of positional tensors returning one tensor, for the converter."""
    import torch

    original = module.forward.__wrapped_forward__  # the torch forward, not OpenVINO's

    class Positional(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *tensors: Any) -> Any:
            if part != "unet":
                return original(*tensors)
            named = dict(zip(inputs, tensors, strict=True))
            added = {k: named.pop(k) for k in _SDXL_INPUTS if k in named}
            return original(**named, added_cond_kwargs=added or None, return_dict=False)[0]

    return Positional()


def _unet_inputs(unet: Any) -> tuple[str, ...]:
    return _UNET_INPUTS + (_SDXL_INPUTS if unet.config.addition_embed_type == "text_time" else ())


def _unet_forward(owner: OpenVinoPath, unet: Any, torch_forward: Callable[..., Any], converted: _Converted) -> Any:
    """UNet2DConditionModel.forward, through OpenVINO where the call allows it."""
    import torch

    up_factor = 2 ** (len(unet.config.block_out_channels) - 1)
    tuner_layers = _TunerLayers(unet)

    def forward(sample: Any, timestep: Any, encoder_hidden_states: Any = None, **kwargs: Any) -> Any:
        return_dict = kwargs.pop("return_dict", True)
        added = dict(kwargs.pop("added_cond_kwargs", None) or {})
        reason = _why_torch(sample, encoder_hidden_states, kwargs, tuner_layers)
        if reason is None and set(added) != set(_unet_inputs(unet)[len(_UNET_INPUTS):]):
            reason = "added conditioning"
        if reason is not None:
            owner.skipped.add(reason)
            return torch_forward(sample, timestep, encoder_hidden_states, added_cond_kwargs=added or None,
                                 return_dict=return_dict, **kwargs)
        batch = sample.shape[0]
        steps = torch.as_tensor(timestep, dtype=torch.float32).reshape(-1).expand(batch)
        tensors = (sample, steps, encoder_hidden_states, *(added[k] for k in _SDXL_INPUTS if k in added))
        # diffusers takes another branch for sizes its upsamplers cannot halve evenly
        aligned = all(s % up_factor == 0 for s in sample.shape[-2:])
        out = converted("aligned" if aligned else "unaligned", tensors).to(sample.dtype)
        if not return_dict:
            return (out,)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=out)

    forward.__wrapped_forward__ = torch_forward  # type: ignore[attr-defined]
    return forward


def _decoder_forward(torch_forward: Callable[..., Any], converted: _Converted) -> Any:
    import torch

    def forward(sample: Any, latent_embeds: Any = None) -> Any:
        if latent_embeds is not None or sample.dtype != torch.float32 or sample.device.type != "cpu":
            return torch_forward(sample, latent_embeds)
        return converted("decoder", (sample,))

    forward.__wrapped_forward__ = torch_forward  # type: ignore[attr-defined]
    return forward


def _why_torch(sample: Any, context: Any, extras: dict[str, Any], tuners: _TunerLayers) -> str | None:
    import torch

    if any(value is not None for value in extras.values()):
        return "extra conditioning (ControlNet, attention arguments)"
    if sample.dtype != torch.float32 or sample.device.type != "cpu" or context is None:
        return "another device or precision"
    if tuners.active():
        return "LoRAs"
    return None


class _TunerLayers:
    """The UNet's LoRA (PEFT) layers, found again when adapters are loaded or deleted. The
    converted network is the base model: a layer switched on or merged in changes what the
    UNet computes, so such a call runs on torch."""

    def __init__(self, unet: Any) -> None:
        self._unet = unet
        self._seen: Any = None
        self._layers: list[Any] = []

    def active(self) -> bool:
        config = getattr(self._unet, "peft_config", None)
        marker = tuple(sorted(config)) if config else ()
        if marker != self._seen:
            self._seen = marker
            self._layers = [m for m in self._unet.modules() if hasattr(m, "merged") and hasattr(m, "disable_adapters")]
        return any(layer.merged or (not layer.disable_adapters and layer.active_adapters) for layer in self._layers)


def _weights_stamp(source: Path | None) -> str:
    """What identifies the model's weights on disk: the files' names, sizes and times, so an
    edited or replaced model is converted again."""
    if source is None:
        return "unknown"
    source = Path(source)
    try:
        if source.is_file():
            stat = source.stat()
            return f"{source.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
        parts = []
        for sub in ("unet", "vae"):
            folder = source / sub
            if folder.is_dir():
                for file in sorted(folder.iterdir())[:64]:
                    stat = file.stat()
                    parts.append(f"{sub}/{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
        return f"{source.resolve()}|" + "|".join(parts)
    except OSError:
        return f"{source}:unreadable"


def _save(openvino: Any, model: Any, folder: Path) -> None:
    """Writes the converted model into `folder` whole or not at all, then trims the cache to
    the most recently used conversions. A disk that is full or read-only only costs the next
    start a conversion."""
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=parent))
        openvino.save_model(model, str(staging / "model.xml"), compress_to_fp16=False)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    except OSError:
        shutil.rmtree(locals().get("staging", parent / ".none"), ignore_errors=True)
        return
    kept = sorted((p for p in parent.iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for old in kept[2 * _KEPT_CONVERSIONS:]:  # a model is two networks: UNet and decoder
        shutil.rmtree(old, ignore_errors=True)
