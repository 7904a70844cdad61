"""Reading an upscale model file and handing it to spandrel, which tells its architecture.

A .safetensors file holds only tensors and loads directly. A pickle file (.pth, .pt, .ckpt,
.bin) can run code when it is opened, so it is opened only with the person's consent, and
then with torch.load(weights_only=True); spandrel's own pickle loader is never used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.catalogue.checkpoints import (
    PICKLE_SUFFIXES,
    PickleConsent,
    PickleRefused,
    read_safetensors_header,
)
from studio.engine.errors import ModelError
from studio.engine.loading.single_file import pickle_unreadable


class UpscalerPickleRefused(PickleRefused):
    """An upscaler pickle the person has not allowed. Upscalers are not in the models page, so
    the message does not send the person there."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.args = (
            f"{path.name} is a pickle file ({path.suffix}). Pickle files can run code on this computer "
            "when they are opened, so Studio does not open them unless you allow this file. Prefer a "
            ".safetensors version of the upscaler: it holds only weights. If you trust where this file "
            "came from, allow it; Studio then reads it in weights-only mode.",
        )


class NotAnUpscaler(ModelError):
    """A readable file that holds no upscale model spandrel (and so Studio) knows."""


@dataclass(frozen=True)
class UpscaleModel:
    """A loaded upscale model: spandrel's descriptor and what Studio needs to know of it."""

    name: str
    architecture: str
    scale: int  # the model's native scale: it always enlarges by exactly this much
    input_channels: int
    output_channels: int
    descriptor: Any  # spandrel.ImageModelDescriptor, in eval mode, on the CPU until moved


def load_upscale_model(path: Path, consent: PickleConsent | None) -> UpscaleModel:
    """The model in `path`, on the CPU. ModelError (PickleRefused for a pickle without
    consent, NotAnUpscaler for weights of something else) with a message a person reads."""
    state = _read_weights(path, consent)
    return _describe(path, state)


def _read_weights(path: Path, consent: PickleConsent | None) -> dict[str, Any]:
    import torch

    if path.suffix.lower() in PICKLE_SUFFIXES:
        if consent is None or not consent.allows(path):
            raise UpscalerPickleRefused(path)
        try:
            data = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception:  # weights_only refuses any code; old formats and damage fail too
            raise ModelError(pickle_unreadable(path)) from None
    else:
        read_safetensors_header(path)  # a damaged header says what is wrong with it
        from safetensors.torch import load_file

        try:
            data = load_file(str(path), device="cpu")
        except Exception:  # safetensors raises several types for damaged files
            raise ModelError(_damaged(path)) from None
    if not isinstance(data, dict):
        raise NotAnUpscaler(_not_recognised(path))
    return data


def _describe(path: Path, state: dict[str, Any]) -> UpscaleModel:
    try:
        from spandrel import ImageModelDescriptor, ModelLoader, UnsupportedModelError
    except (ImportError, RuntimeError):  # not installed, or a torchvision built for another torch
        raise ModelError(
            f"{path.name} needs the spandrel library to run, and it is not installed or cannot load "
            "(install Studio with its [upscalers] extra, and the torchvision built for your torch). "
            "The built-in Lanczos upscaler works without it."
        ) from None

    try:
        descriptor = ModelLoader().load_from_state_dict(state)
    except UnsupportedModelError:
        raise NotAnUpscaler(_not_recognised(path)) from None
    except Exception:  # an architecture matched but its tensors have the wrong shapes or are missing
        raise ModelError(
            f"{path.name} looks like an upscale model but its weights do not fit together: it may "
            "be damaged, cut short or in an unusual layout. Download or copy it again."
        ) from None
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.purpose == "FaceSR":
        raise NotAnUpscaler(
            f"{path.name} is a {descriptor.architecture.name} model for {_purpose(descriptor.purpose)}, "
            "not an upscaler that enlarges a whole image."
        )
    descriptor.eval()
    return UpscaleModel(
        name=path.stem,
        architecture=descriptor.architecture.name,
        scale=int(descriptor.scale),
        input_channels=int(descriptor.input_channels),
        output_channels=int(descriptor.output_channels),
        descriptor=descriptor,
    )


def _purpose(purpose: str) -> str:
    return {"Inpainting": "inpainting", "FaceSR": "restoring faces"}.get(purpose, purpose.lower())


def _not_recognised(path: Path) -> str:
    return (
        f"{path.name} is not an upscale model Studio recognises: its weights match none of the "
        "architectures Studio loads (ESRGAN, Real-ESRGAN, SwinIR, HAT, DAT, SPAN and others). "
        "If it is an upscaler, it may be damaged or in an unusual layout."
    )


def _damaged(path: Path) -> str:
    return f"{path.name} is damaged: its weights cannot be read. Download or copy it again."
