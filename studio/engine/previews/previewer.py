"""Turns each step's x0 latents into a small RGB preview, as the preview settings say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

DecoderChoice = Literal["auto", "linear", "tiny", "full"]


@dataclass(frozen=True)
class PreviewSettings:
    decoder: DecoderChoice = "auto"
    every: int = 1  # preview every N steps; the last step always gets one


class Previewer:
    def __init__(self, decoder: Any, settings: PreviewSettings) -> None:
        self.decoder = decoder
        self.settings = settings

    def wants(self, index: int, total: int) -> bool:
        """Whether step `index` (1-based) of `total` gets a preview."""
        return index == total or index % max(1, self.settings.every) == 0

    def preview(self, x0: Any) -> np.ndarray:
        """HxWx3 uint8 for the first image of a batch of x0 latents."""
        result: np.ndarray = self.decoder.decode(x0[0])
        return result


def make_previewer(family: str, pipe: Any, settings: PreviewSettings) -> Previewer:
    from studio.engine.previews.linear import decoder_for

    channels = int(getattr(pipe.vae.config, "latent_channels", 4))
    return Previewer(decoder_for(family, pipe.vae, channels), settings)
