"""Which LoRAs and embeddings an image was made with are not in the library now: said before
its settings are reused, so a person knows which file to fetch and where to put it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from studio.engine.prompting.lora_tags import extract_lora_tags
from studio.engine.run.addons import AddOnProblem, FoundAddOn
from studio.engine.run.request import GenerationRequest, UsedAddOn

_WORDS = {"lora": "LoRA", "embedding": "embedding"}


class AddOnLookup(Protocol):
    """What the check needs of the library (LibraryFinder provides it)."""

    def find(self, kind: str, name: str) -> FoundAddOn | None: ...

    def find_by_hash(self, kind: str, short_hash: str) -> FoundAddOn | None: ...

    def where(self, kind: str) -> str: ...


def recorded_addons(request: GenerationRequest) -> list[UsedAddOn]:
    """The add-ons an image's request names: those its metadata lists (with their hashes),
    then each `<lora:…>` tag of the prompt the list lacks (an infotext without `Lora hashes`)."""
    addons = list(request.addons)
    listed = {(a.kind, a.name.lower()) for a in addons}
    _, tags, _ = extract_lora_tags(request.prompt)
    for tag in tags:
        if ("lora", tag.name.lower()) not in listed:
            listed.add(("lora", tag.name.lower()))
            addons.append(UsedAddOn("lora", tag.name, weight=tag.weight))
    return addons


def missing_addons(addons: Iterable[UsedAddOn], finder: AddOnLookup) -> list[str]:
    """One message per add-on that cannot be found by its name: naming it, its recorded hash
    and the folders searched, or the file that has its hash when it was renamed. Empty when
    every one is there."""
    messages: list[str] = []
    for addon in addons:
        words = _WORDS.get(addon.kind, addon.kind)
        try:
            if finder.find(addon.kind, addon.name) is not None:
                continue
        except AddOnProblem as problem:  # there, but not usable: the library says why
            messages.append(str(problem))
            continue
        hash_text = f" (hash {addon.short_hash})" if addon.short_hash else ""
        renamed = finder.find_by_hash(addon.kind, addon.short_hash) if addon.short_hash else None
        if renamed is not None:
            fix = (f"change the tag to <lora:{renamed.name}:…> to use it" if addon.kind == "lora"
                   else f"write “{renamed.name}” in the prompt to use it")
            messages.append(f"The {words} “{addon.name}” this image was made with is not in the library under "
                            f"that name, but {renamed.path} has its hash{hash_text}: {fix}.")
            continue
        messages.append(f"The {words} “{addon.name}”{hash_text} this image was made with is missing: it was "
                        f"looked for in {finder.where(addon.kind)}. Put the file there to make the image again.")
    return messages


def missing_in_request(request: GenerationRequest, finder: AddOnLookup) -> list[str]:
    """`missing_addons` for what an image's request records."""
    return missing_addons(recorded_addons(request), finder)
