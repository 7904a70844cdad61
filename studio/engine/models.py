"""Which models exist and where: the bundled demo first, then the models folder.

Torch-free and cheap: it reads only small JSON files, so the UI can list models before
torch loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.config.paths import StudioPaths, bundled_models_dir
from studio.engine.errors import ModelError

STUDIO_MODEL_FILE = "studio.json"  # optional: name, description and defaults of a model folder

FAMILY_BY_PIPELINE = {
    "StableDiffusionXLPipeline": "SDXL",
    "StableDiffusion3Pipeline": "SD3",
    "FluxPipeline": "Flux",
}


@dataclass(frozen=True)
class ModelEntry:
    id: str  # what a GenerationRequest names: a bundled model's folder name, else a path
    name: str
    path: Path
    family: str = "other"
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    token_limit: int | None = None
    bundled: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.name} (built-in demo)" if self.bundled else self.name


class ModelRegistry:
    """Lists and resolves models. Build one per app (app.py / cli.py) and pass it down."""

    def __init__(self, paths: StudioPaths, extra_dirs: tuple[Path, ...] = ()) -> None:
        self._paths = paths
        self._extra_dirs = extra_dirs

    def entries(self) -> list[ModelEntry]:
        found = [describe(p, bundled=True) for p in _model_folders(bundled_models_dir())]
        for folder in (self._paths.models_dir, *self._extra_dirs):
            found.extend(describe(p) for p in _model_folders(folder))
        return found

    def default(self) -> ModelEntry:
        entries = self.entries()
        if not entries:
            raise ModelError(
                "No model is installed. Put a diffusers model folder (with model_index.json) "
                f"into {self._paths.models_dir}, or pass --model PATH."
            )
        return entries[0]

    def resolve(self, model_id: str) -> ModelEntry:
        """The model a request names: "" is the default; else a path, a bundled id or a name."""
        if not model_id:
            return self.default()
        path = Path(model_id).expanduser()
        if path.exists():
            return describe(path.resolve())
        for entry in self.entries():
            if model_id in (entry.id, entry.name, entry.path.name):
                return entry
        raise ModelError(
            f"Model {model_id!r} was not found: it is neither a folder nor a known model name."
        )


def describe(folder: Path, *, bundled: bool = False) -> ModelEntry:
    """A ModelEntry from a folder's small JSON files (no weights are read)."""
    info = _read_json(folder / STUDIO_MODEL_FILE)
    return ModelEntry(
        id=folder.name if bundled else str(folder),
        name=str(info.get("name") or folder.name),
        path=folder,
        family=detect_family(folder),
        description=str(info.get("description", "")),
        defaults=dict(info.get("defaults") or {}),
        token_limit=_token_limit(folder),
        bundled=bundled,
    )


def detect_family(folder: Path) -> str:
    index = _read_json(folder / "model_index.json")
    pipeline = str(index.get("_class_name", ""))
    if pipeline in FAMILY_BY_PIPELINE:
        return FAMILY_BY_PIPELINE[pipeline]
    if pipeline == "StableDiffusionPipeline":
        unet = _read_json(folder / "unet" / "config.json")
        return {768: "SD 1.x", 1024: "SD 2.x"}.get(int(unet.get("cross_attention_dim") or 0), "other")
    return "other"


def _token_limit(folder: Path) -> int | None:
    config = _read_json(folder / "tokenizer" / "tokenizer_config.json")
    limit = config.get("model_max_length")
    return int(limit) if isinstance(limit, int) and 0 < limit < 100_000 else None


def _model_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "model_index.json").is_file())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
