"""Reusing an image's settings says which of its LoRAs and embeddings are not in the library,
and where they were looked for, before the next run fails on them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from studio.config.paths import StudioPaths
from studio.config.settings import Settings
from studio.engine.loras.finder import LibraryFinder
from studio.engine.loras.library import AddOnLibrary
from studio.engine.loras.missing import missing_in_request
from studio.engine.run.request import GenerationRequest

if TYPE_CHECKING:
    from studio.ui.gallery.reuse import ParameterControls


class AddOnLookups:
    """A LibraryFinder for the window's folders, made on first use and again when the folders
    in Settings change. Lookups read headers (hashes only for a renamed file), so they are
    cheap enough for one reuse on the GUI thread."""

    def __init__(self, paths: StudioPaths, settings: Settings) -> None:
        self._paths = paths
        self._settings = settings
        self._finder: LibraryFinder | None = None
        self._folders: tuple[tuple[str, ...], tuple[str, ...]] | None = None

    def missing(self, request: GenerationRequest) -> list[str]:
        folders = (tuple(self._settings.lora_folders), tuple(self._settings.embedding_folders))
        if self._finder is None or folders != self._folders:
            self._finder = LibraryFinder(AddOnLibrary.for_studio(self._paths, self._settings))
            self._folders = folders
        return missing_in_request(request, self._finder)


class CheckedControls:
    """The parameter controls as reuse sees them: applying an image's request also tells, via
    `tell`, each LoRA or embedding of it that is missing."""

    def __init__(self, controls: ParameterControls, lookups: AddOnLookups, tell: Callable[[str], object]) -> None:
        self._controls = controls
        self._lookups = lookups
        self._tell = tell
        self.last_missing: list[str] = []

    def request(self) -> GenerationRequest:
        return self._controls.request()

    def apply_request(self, request: GenerationRequest) -> None:
        self._controls.apply_request(request)
        self.last_missing = self._lookups.missing(request)
        if self.last_missing:
            self._tell("\n".join(self.last_missing))
