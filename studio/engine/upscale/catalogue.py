"""Which upscalers there are: Lanczos first, then the model files in the models folder's
`upscalers/` subfolder. Torch-free: a listing reads file names only, never weights."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.engine.catalogue.checkpoints import CHECKPOINT_SUFFIXES
from studio.engine.errors import ModelError

LANCZOS = "Lanczos"
UPSCALERS_FOLDER = "upscalers"


@dataclass(frozen=True)
class Upscaler:
    """One upscaler as a person names it; `path` is None for the built-in Lanczos resize."""

    name: str
    path: Path | None = None


class UnknownUpscaler(ModelError):
    """An upscaler name that is not in the list; the message lists the ones there are."""


def upscalers_dir(models_dir: Path) -> Path:
    return models_dir / UPSCALERS_FOLDER


def list_upscalers(models_dir: Path) -> list[Upscaler]:
    """Lanczos, then each model file by its name without the suffix. Two files that differ
    only in suffix (a .pth and its .safetensors) keep their whole file names, so each has
    a name of its own."""
    folder = upscalers_dir(models_dir)
    try:
        files = sorted(
            (p for p in folder.iterdir() if p.suffix.lower() in CHECKPOINT_SUFFIXES and p.is_file()),
            key=lambda p: p.name.casefold(),
        )
    except OSError:  # no such folder yet, or one that cannot be read: only Lanczos
        files = []
    stems = [p.stem.casefold() for p in files]
    found = [Upscaler(LANCZOS)]
    for path, stem in zip(files, stems, strict=True):
        found.append(Upscaler(path.stem if stems.count(stem) == 1 else path.name, path))
    return found


def resolve_upscaler(name: str, models_dir: Path) -> Upscaler:
    """The upscaler called `name` (its listed name or its file name, in any case), else
    UnknownUpscaler naming the ones there are."""
    available = list_upscalers(models_dir)
    wanted = name.strip().casefold()
    for upscaler in available:
        names = {upscaler.name.casefold()}
        if upscaler.path is not None:
            names.add(upscaler.path.name.casefold())
        if wanted in names:
            return upscaler
    listed = ", ".join(u.name for u in available)
    raise UnknownUpscaler(
        f"There is no upscaler called {_shown(name)}. Available: {listed}. To add one, put its "
        f"file into {upscalers_dir(models_dir)}."
    )


def _shown(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[: limit - 1] + "…")
