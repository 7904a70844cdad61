"""The LoRAs and embeddings of one run: `<lora:NAME:WEIGHT>` tags and embedding names in the
prompt, found in the library, checked against the model's family, and put on the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from studio.engine.errors import ModelError
from studio.engine.prompting.lora_tags import extract_lora_tags
from studio.engine.run.request import FieldProblem, GenerationRequest, InvalidRequest, UsedAddOn


@dataclass(frozen=True)
class FoundAddOn:
    """A library file a prompt named: where it is, its short hash and the family it is for
    ("" where the file does not say and its shapes do not tell)."""

    name: str
    path: Path
    short_hash: str = ""
    family: str = ""


class AddOnFinder(Protocol):
    """The LoRA and embedding library as a run sees it."""

    def find(self, kind: str, name: str) -> FoundAddOn | None: ...

    def names(self, kind: str) -> list[str]: ...

    def where(self, kind: str) -> str: ...

    def family_problem(self, found: FoundAddOn, kind: str, model_family: str) -> str | None: ...


class AddOnProblem(ModelError):
    """A LoRA or embedding the run cannot use; the message names it and says what to do."""


@dataclass(frozen=True)
class AddOnsUsed:
    addons: tuple[UsedAddOn, ...]
    notices: tuple[str, ...]


def use_addons(pipe: Any, request: GenerationRequest, model_family: str, finder: AddOnFinder | None,
               allowed_pickle: Any = None, *, fuse: bool = False) -> AddOnsUsed:
    """Puts the request's LoRAs and embeddings on `pipe` (and takes off those of earlier runs).
    Raises InvalidRequest for an unreadable tag and AddOnProblem for a file that is missing,
    made for another family, or does not fit."""
    from studio.engine.loras.apply import LoraNotApplied, LoraUse, activate
    from studio.engine.loras.embeddings import EmbeddingNotApplied, EmbeddingUse, add_embeddings, named_in

    _, tags, bad = extract_lora_tags(request.prompt)
    if bad:
        raise InvalidRequest([FieldProblem("prompt", b.reason) for b in bad])
    if tags and not hasattr(pipe, "load_lora_weights"):
        raise AddOnProblem(f"This model ({type(pipe).__name__}) takes no LoRAs; remove "
                           f"<lora:{tags[0].name}:…> from the prompt.")
    if finder is None:
        if tags:
            raise AddOnProblem(f"No LoRA library is set up, so “{tags[0].name}” cannot be found.")
        activate(pipe, [])
        return AddOnsUsed((), ())
    used: list[UsedAddOn] = []
    loras: list[LoraUse] = []
    for tag in tags:
        found = _found(finder, "lora", tag.name, model_family)
        loras.append(LoraUse(tag.name, found.path, tag.weight, tag.text_encoder_weight))
        used.append(UsedAddOn("lora", tag.name, str(found.path), found.short_hash, tag.weight))
    embeddings: list[EmbeddingUse] = []
    if hasattr(pipe, "load_textual_inversion"):
        text = f"{request.prompt}\n{request.negative_prompt}"
        for name in named_in(text, finder.names("embedding")):
            found = _found(finder, "embedding", name, model_family)
            embeddings.append(EmbeddingUse(name, found.path))
            used.append(UsedAddOn("embedding", name, str(found.path), found.short_hash))
    try:
        add_embeddings(pipe, embeddings, allowed_pickle)
        notices = activate(pipe, loras, allowed_pickle, fuse=fuse)
    except (LoraNotApplied, EmbeddingNotApplied) as error:
        raise AddOnProblem(str(error)) from error
    return AddOnsUsed(tuple(used), tuple(notices))


def _found(finder: AddOnFinder, kind: str, name: str, model_family: str) -> FoundAddOn:
    found = finder.find(kind, name)
    words = "LoRA" if kind == "lora" else "embedding"
    if found is None:
        raise AddOnProblem(f"There is no {words} named “{name}” in {finder.where(kind)}. Put the file there "
                           "(its name without the extension is what the prompt calls it), or take it out of "
                           "the prompt.")
    problem = finder.family_problem(found, kind, model_family)
    if problem:
        raise AddOnProblem(problem)
    return found
