"""Textual-inversion embeddings, used in a prompt by their file name: each file's vectors added to
the tokenizer and text encoder once per pipeline (both encoders on SDXL), by diffusers'
`load_textual_inversion`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.loras.apply import PICKLE_SUFFIXES

_STATE = "_studio_embeddings"


@dataclass(frozen=True)
class EmbeddingUse:
    """An embedding named in a prompt: its token (the file's name) and its file."""

    name: str
    path: Path


class EmbeddingNotApplied(Exception):
    """An embedding file that could not be added; the message says why, in words."""

    def __init__(self, name: str, message: str, details: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.details = details


def named_in(text: str, names: list[str]) -> list[str]:
    """The names that occur in `text` as whole words, in the order of `names`."""
    return [name for name in names if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text)]


def loaded_tokens(pipe: Any) -> tuple[str, ...]:
    """The embedding tokens `pipe` knows: part of the key of cached prompt embeddings, since a
    token added later changes how an earlier prompt with that word is read."""
    return tuple(sorted(pipe.__dict__.get(_STATE, {})))


def add_embeddings(pipe: Any, uses: list[EmbeddingUse], allowed_pickle: Any = None) -> None:
    """Adds each embedding `pipe` does not know yet. Raises EmbeddingNotApplied for a file that
    cannot be read or whose vectors do not fit the text encoder."""
    known: dict[str, str] = pipe.__dict__.setdefault(_STATE, {})
    for use in uses:
        if use.name in known:
            continue
        if not hasattr(pipe, "load_textual_inversion"):
            raise EmbeddingNotApplied(use.name, f"This model ({type(pipe).__name__}) takes no textual-inversion "
                                      f"embeddings; remove “{use.name}” from the prompt.")
        if use.path.suffix.lower() in PICKLE_SUFFIXES and not (allowed_pickle and allowed_pickle(use.path)):
            raise EmbeddingNotApplied(use.name, f"The embedding “{use.name}” is a pickle file ({use.path.name}), "
                                      "which can run code when opened; allow it first, or use a .safetensors copy.")
        try:
            _add(pipe, use)
        except EmbeddingNotApplied:
            raise
        except Exception as error:  # the reader's complaint goes to the details, the person gets words
            raise EmbeddingNotApplied(
                use.name, f"The embedding “{use.name}” ({use.path.name}) cannot be used with this model: it is "
                "damaged, or its vectors have another width than this model's text encoder.",
                f"{type(error).__name__}: {error}"[:2000]) from None
        known[use.name] = str(use.path)


def _add(pipe: Any, use: EmbeddingUse) -> None:
    if getattr(pipe, "text_encoder_2", None) is None:
        pipe.load_textual_inversion(str(use.path), token=use.name)
        return
    state = _read(use.path)
    if "clip_l" not in state or "clip_g" not in state:
        raise EmbeddingNotApplied(use.name, f"The embedding “{use.name}” is made for a model with one text "
                                  "encoder (SD 1.x or 2.x); SDXL needs one with vectors for both (clip_l, clip_g).")
    pipe.load_textual_inversion(state["clip_l"], token=use.name, text_encoder=pipe.text_encoder,
                                tokenizer=pipe.tokenizer)
    pipe.load_textual_inversion(state["clip_g"], token=use.name, text_encoder=pipe.text_encoder_2,
                                tokenizer=pipe.tokenizer_2)


def _read(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    if path.suffix.lower() != ".safetensors":
        raise EmbeddingNotApplied(path.stem, f"SDXL embeddings are read from .safetensors files; "
                                  f"{path.name} is not one.")
    return dict(load_file(str(path)))
