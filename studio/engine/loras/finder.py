"""The LoRA and embedding library as runs look names up in it."""

from __future__ import annotations

import os
from pathlib import Path

from studio.engine.loras.library import AddOn, AddOnLibrary, family_problem
from studio.engine.run.addons import FoundAddOn

_WORDS = {"lora": "LoRA", "embedding": "embedding"}


class LibraryFinder:
    """Resolves the names a prompt uses through an AddOnLibrary, rescanning only when a folder
    of it changed since the last scan."""

    def __init__(self, library: AddOnLibrary) -> None:
        self.library = library
        self._seen: tuple[tuple[str, int], ...] | None = None

    def where(self, kind: str) -> str:
        folders = [str(f.path) for f in self.library.folders if f.kind == kind] or ["the models folder"]
        return " or ".join(folders)

    def names(self, kind: str) -> list[str]:
        return sorted({a.name for a in self._current() if a.kind == kind and a.usable})

    def find(self, kind: str, name: str) -> FoundAddOn | None:
        self._current()
        addon = self.library.find(name, kind)
        if addon is None:
            return None
        if addon.problem:
            from studio.engine.run.addons import AddOnProblem

            raise AddOnProblem(f"{addon.problem} (the {_WORDS[kind]} “{name}” in the prompt)")
        addon = self.library.hash_of(addon)
        return FoundAddOn(addon.name, addon.path, addon.short_hash, addon.family)

    def find_by_hash(self, kind: str, short_hash: str) -> FoundAddOn | None:
        """The usable file of `kind` whose short hash is `short_hash` (a file renamed since an
        image recorded it). Hashes not cached yet are computed, so this reads every such file
        once; the hash cache keeps them for the next time."""
        wanted = short_hash.strip().lower()
        if not wanted:
            return None
        for addon in self._current():
            if addon.kind != kind or not addon.usable:
                continue
            hashed = self.library.hash_of(addon)
            if hashed.short_hash == wanted:
                self.library.hashes.save()
                return FoundAddOn(hashed.name, hashed.path, hashed.short_hash, hashed.family)
        self.library.hashes.save()
        return None

    def family_problem(self, found: FoundAddOn, kind: str, model_family: str) -> str | None:
        addon = self.library.find(found.name, kind)
        return family_problem(addon, model_family) if addon is not None else None

    def _current(self) -> list[AddOn]:
        seen = _folder_times([f.path for f in self.library.folders])
        if seen != self._seen:
            self._seen = seen
            return self.library.scan(with_hashes=False)
        return self.library.snapshot()


def _folder_times(roots: list[Path]) -> tuple[tuple[str, int], ...]:
    """Every folder under `roots` with its modification time: a file added, removed or renamed
    anywhere in them changes one."""
    times: list[tuple[str, int]] = []
    for root in roots:
        for folder, _, _ in os.walk(root):
            try:
                times.append((folder, os.stat(folder).st_mtime_ns))
            except OSError:
                continue
    return tuple(times)
