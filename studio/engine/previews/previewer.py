"""Turns each step's x0 latents into a small RGB preview, as the preview settings say.

"auto" picks the best decoder whose measured cost stays within its budget (a share of
one denoising step); when even the linear decoder is too dear it previews every N steps.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

DecoderChoice = Literal["auto", "linear", "tiny", "full", "vae"]  # "vae" is "full"
BUDGETS = {"tiny": 0.08, "linear": 0.02}  # preview cost / step time, best decoder first
_SMOOTHING = 0.5  # weight of the newest measurement


@dataclass(frozen=True)
class PreviewSettings:
    decoder: DecoderChoice = "auto"
    every: int = 1  # preview every N steps; the first and last step always get one
    enabled: bool = True
    tiny_path: Path | None = None  # an AutoencoderTiny folder the user points to
    cache_dir: Path | None = None  # where fitted linear decoders are kept


class Previewer:
    """Decides which steps get a preview and decodes them; measures what each preview costs.

    Step time is measured between successive `wants` calls (one per step), less the preview
    cost spent in between, so no change to the denoising loop is needed.
    """

    def __init__(
        self, decoders: dict[str, Any], settings: PreviewSettings, note: str = ""
    ) -> None:
        self.decoders = decoders
        self.settings = settings
        self.note = note  # why the chosen decoder is not used, in words; "" when it is
        self.auto_every = 1
        self.last_decoder = ""
        self.ratios: dict[tuple[str, tuple[int, ...]], float] = {}  # (decoder, shape) -> cost/step
        self._step_seconds: float | None = None
        self._clock: float | None = None
        self._index = 0
        self._spent = 0.0

    @property
    def every(self) -> int:
        return max(1, self.settings.every, self.auto_every)

    def wants(self, index: int, total: int) -> bool:
        """Whether step `index` (1-based) of `total` gets a preview; call once per step."""
        self._observe(index)
        if not self.settings.enabled:
            return False
        return index in (1, total) or index % self.every == 0

    def preview(self, x0: Any) -> np.ndarray:
        """HxWx3 uint8 for the first image of a batch of x0 latents."""
        latent = x0[0]
        name = self._choose(tuple(latent.shape))
        started, timer = time.perf_counter(), _GpuTimer.start(latent)
        image = self.decoders[name].render(latent)
        if timer is not None:
            timer.stop()
        result = np.ascontiguousarray(image.cpu().numpy())  # the one small transfer
        cost = timer.seconds() if timer is not None else time.perf_counter() - started
        self._spent += time.perf_counter() - started
        self._record(name, tuple(latent.shape), cost)
        self.last_decoder = name
        return result

    def ratio(self, name: str, shape: tuple[int, ...]) -> float | None:
        """Measured preview cost of decoder `name` as a share of a step, if known."""
        return self.ratios.get((name, shape))

    def _observe(self, index: int) -> None:
        now = time.perf_counter()
        if self._clock is not None and index == self._index + 1:
            step = max(1e-9, now - self._clock - self._spent)
            previous = self._step_seconds
            self._step_seconds = step if previous is None else _blend(previous, step)
        elif index <= self._index or self._clock is None:
            self._step_seconds = None  # a new run: its steps may cost something else
        self._clock, self._index, self._spent = now, index, 0.0

    def _choose(self, shape: tuple[int, ...]) -> str:
        choice = "full" if self.settings.decoder == "vae" else self.settings.decoder
        if choice != "auto":
            return choice if choice in self.decoders else "linear"
        for name in BUDGETS:
            if name not in self.decoders:
                continue
            ratio = self.ratio(name, shape)
            if ratio is None and name != "linear" and self._step_seconds is None:
                continue  # measure a step with the cheap decoder before trying a dear one
            if ratio is None or ratio <= BUDGETS[name]:
                return name
        return "linear"

    def _record(self, name: str, shape: tuple[int, ...], cost: float) -> None:
        if self._step_seconds is None:
            return
        ratio = cost / self._step_seconds
        previous = self.ratios.get((name, shape))
        ratio = ratio if previous is None else _blend(previous, ratio)
        self.ratios[(name, shape)] = ratio
        if self.settings.decoder == "auto" and name == "linear":
            self.auto_every = max(1, math.ceil(ratio / BUDGETS["linear"]))


def _blend(old: float, new: float) -> float:
    return (1 - _SMOOTHING) * old + _SMOOTHING * new


class _GpuTimer:
    """Device time of the decode alone on CUDA, where wall time would include the step's queue."""

    def __init__(self, begin: Any, end: Any) -> None:
        self._begin, self._end = begin, end

    @classmethod
    def start(cls, tensor: Any) -> _GpuTimer | None:
        if tensor.device.type != "cuda":
            return None
        import torch

        begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        begin.record()
        return cls(begin, end)

    def stop(self) -> None:
        self._end.record()

    def seconds(self) -> float:
        self._end.synchronize()
        return float(self._begin.elapsed_time(self._end)) / 1000.0


def make_previewer(
    family: str, pipe: Any, settings: PreviewSettings, *, model_path: Path | None = None
) -> Previewer:
    """A previewer for one loaded pipeline: linear always, tiny where its weights are, full on request."""
    from studio.engine.previews.decoders import FullDecoder, TinyDecoder, find_tiny_folder
    from studio.engine.previews.linear import linear_decoder_for

    if not settings.enabled:
        return Previewer({}, settings)
    decoders: dict[str, Any] = {
        "linear": linear_decoder_for(
            family, pipe.vae, model_path=model_path, cache_dir=settings.cache_dir
        )
    }
    if settings.decoder in ("auto", "tiny"):
        folder = find_tiny_folder(model_path, settings.tiny_path)
        if folder is not None:
            param = next(pipe.vae.parameters())
            decoders["tiny"] = TinyDecoder.load(folder, param.device, param.dtype)
    if settings.decoder in ("full", "vae"):
        decoders["full"] = FullDecoder(pipe.vae)
    note = ""
    if settings.decoder == "tiny" and "tiny" not in decoders:
        note = (
            "No tiny autoencoder was found (a taesd folder inside the model folder, or the "
            "folder set for previews), so previews use the linear decoder."
        )
    return Previewer(decoders, settings, note)
