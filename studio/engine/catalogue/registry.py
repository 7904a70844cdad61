"""Which models exist and where: the bundled demo first, then the models folder, the
Hugging Face cache other tools share, and folders the person added.

Torch-free and cheap: it reads small JSON files and safetensors headers only, so the UI
can list models before torch loads. Pickle checkpoints are listed by name and size only:
reading anything more would mean unpickling them, which needs the person's consent.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.config.paths import StudioPaths, bundled_models_dir
from studio.engine.catalogue.checkpoints import (
    CHECKPOINT_SUFFIXES,
    PickleConsent,
    describe_checkpoint,
)
from studio.engine.catalogue.model_files import (
    disk_size,
    folder_precision,
    is_runnable_pipeline,
)
from studio.engine.catalogue.model_files import read_json_object as _read_json
from studio.engine.catalogue.sources import SOURCES_FILE, ModelSources
from studio.engine.errors import ModelError
from studio.engine.hub.cache import hub_cache_dir, repo_folder, repo_id_of, snapshots

STUDIO_MODEL_FILE = "studio.json"  # optional: name, description and defaults of a model folder
PICKLE_CONSENT_FILE = "pickle-consent.json"  # the pickle files the person allowed

FAMILY_BY_PIPELINE = {
    "StableDiffusionXLPipeline": "SDXL",
    "StableDiffusionXLInpaintPipeline": "SDXL",
    "StableDiffusion3Pipeline": "SD3",
    "FluxPipeline": "Flux",
}
FAMILIES = ("SD 1.x", "SD 2.x", "SDXL", "SD3", "Flux", "other")

# Where an entry comes from, as the models page names it.
BUILT_IN = "built-in"
MODELS_FOLDER = "models folder"
HF_CACHE = "Hugging Face cache"
DOWNLOADED = "downloaded"
ADDED = "added folder"

_WEIGHT_SUFFIXES = CHECKPOINT_SUFFIXES
_SIDECAR_SUFFIX = ".config"  # `model.config/` next to `model.ckpt` holds configs, not a model
PICKLE_NOTE = (
    "Pickle checkpoint: needs your permission to open. Pickle files can run code when they "
    "are opened; allow only files from sources you trust. Its family shows once it is loaded."
)


@dataclass(frozen=True)
class ModelEntry:
    id: str  # what a GenerationRequest names: a bundled folder name, a repo id, else a path
    name: str
    path: Path
    family: str = "other"
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    token_limit: int | None = None
    bundled: bool = False
    source: str = ""  # BUILT_IN, MODELS_FOLDER, HF_CACHE, DOWNLOADED or ADDED
    size_bytes: int = 0
    precision: str = ""  # "fp16", "bf16", "fp32", "mixed", or "" when unknown
    repo_id: str = ""  # for Hugging Face cache entries
    owned: bool = False  # Studio's own files: removing may move them to the trash
    problem: str = ""  # why it cannot load, for a file Studio recognised but cannot run
    is_pickle: bool = False  # a .ckpt/.pt/.pth/.bin file: opens only with the person's consent

    @property
    def display_name(self) -> str:
        return f"{self.name} (built-in demo)" if self.bundled else self.name

    @property
    def is_file(self) -> bool:
        return self.path.suffix.lower() in CHECKPOINT_SUFFIXES


class ModelRegistry:
    """Lists and resolves models. Build one per app (app.py / cli.py) and pass it down.

    `entries()` scans the folders (it reads every model's files: call it off the GUI
    thread); each scan is kept as a snapshot that `snapshot()` returns at once and that
    `resolve()` answers from, rescanning only when a name is not in it.
    """

    def __init__(
        self,
        paths: StudioPaths,
        extra_dirs: tuple[Path, ...] = (),
        *,
        hf_cache: Path | None = None,
        pickle_consent: PickleConsent | None = None,
    ) -> None:
        self._paths = paths
        self._extra_dirs = extra_dirs
        self._hf_cache = hf_cache
        self._details: dict[tuple[str, int], tuple[int, str]] = {}
        self._lock = threading.Lock()  # scans run on worker threads while runs resolve
        self._snapshot: list[ModelEntry] | None = None  # the last scan, hidden entries included
        # One consent store per app, shared by the engine and the models page.
        self.pickle_consent = pickle_consent or PickleConsent(store=self.pickle_consent_file)

    @property
    def paths(self) -> StudioPaths:
        return self._paths

    @property
    def sources_file(self) -> Path:
        return self._paths.config_dir / SOURCES_FILE

    @property
    def pickle_consent_file(self) -> Path:
        return self._paths.config_dir / PICKLE_CONSENT_FILE

    @property
    def hf_cache(self) -> Path:
        return self._hf_cache or hub_cache_dir()

    def sources(self) -> ModelSources:
        return ModelSources.load(self.sources_file)

    def entries(self, *, include_hidden: bool = False) -> list[ModelEntry]:
        """Scan every place models live, keep the result as the snapshot, and return it."""
        with self._lock:
            everything = self._scan_all()
            self._snapshot = everything
        return self._visible(everything, include_hidden)

    def snapshot(self, *, include_hidden: bool = False) -> list[ModelEntry] | None:
        """The entries of the last scan without scanning again; None before the first scan."""
        found = self._snapshot
        return None if found is None else self._visible(found, include_hidden)

    def bundled_entries(self) -> list[ModelEntry]:
        """The built-in models alone: cheap enough for the GUI thread before a scan is done."""
        return [self._describe(p, bundled=True, source=BUILT_IN) for p in _model_folders(bundled_models_dir())]

    def _visible(self, everything: list[ModelEntry], include_hidden: bool) -> list[ModelEntry]:
        if include_hidden:
            return list(everything)
        hidden = set(self.sources().hidden)
        return [e for e in everything if e.id not in hidden]

    def _known(self) -> list[ModelEntry]:
        """The snapshot with hidden entries, scanning once if there is none yet."""
        found = self._snapshot
        return found if found is not None else self.entries(include_hidden=True)

    def _scan_all(self) -> list[ModelEntry]:
        sources = self.sources()
        found = [
            self._describe(p, bundled=True, source=BUILT_IN)
            for p in _model_folders(bundled_models_dir())
        ]
        found += self._scan(self._paths.models_dir, MODELS_FOLDER, owned=True)
        for folder in self._extra_dirs:
            found += self._scan(folder, MODELS_FOLDER, owned=False)
        found += self._hub_entries(set(sources.downloads))
        for text in sources.folders:
            folder = Path(text)
            if (folder / "model_index.json").is_file():
                found.append(self._describe(folder, source=ADDED))
            else:
                found += self._scan(folder, ADDED, owned=False)
        unique: dict[str, ModelEntry] = {}
        for entry in found:
            unique.setdefault(_key(entry.path), entry)
        return list(unique.values())

    def default(self) -> ModelEntry:
        entries = self._visible(self._known(), include_hidden=False)
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
            resolved = path.resolve()
            for entry in self._known():
                if _key(entry.path) == _key(resolved):
                    return entry
            return describe_file(resolved) if resolved.is_file() else describe(resolved)
        for scan in (self._known, lambda: self.entries(include_hidden=True)):  # a new model: look again once
            for entry in scan():
                if model_id in (entry.id, entry.name, entry.path.name):
                    return entry
        raise ModelError(
            f"Model {model_id!r} was not found: it is neither a folder nor a known model name."
        )

    def add_folder(self, folder: Path) -> list[ModelEntry]:
        """Remember a model folder, or a folder of models; returns the entries it brings."""
        folder = folder.expanduser().resolve()
        if not folder.is_dir():
            raise ModelError(f"{folder} is not a folder.")
        if (folder / "model_index.json").is_file():
            from studio.engine.loading.pipelines import check_model_folder

            check_model_folder(folder)
            brought = [self._describe(folder, source=ADDED)]
        else:
            brought = self._scan(folder, ADDED, owned=False)
            if not brought:
                raise ModelError(
                    f"{folder} holds no model: Studio looks for a diffusers folder (with "
                    "model_index.json) or checkpoint files (.safetensors, .ckpt) in it."
                )
        sources = self.sources()
        if str(folder) not in sources.folders:
            sources.folders.append(str(folder))
        ids = {e.id for e in brought}
        sources.hidden = [h for h in sources.hidden if h not in ids]
        sources.save(self.sources_file)
        self._snapshot = None
        return brought

    def record_download_started(self, repo_id: str) -> None:
        """Remember an unfinished download, so the models page can offer to resume it."""
        sources = self.sources()
        if repo_id not in sources.pending:
            sources.pending.append(repo_id)
            sources.save(self.sources_file)
        self._snapshot = None

    def unfinished_downloads(self) -> list[str]:
        return self.sources().pending

    def record_download(self, repo_id: str) -> None:
        """Mark a repo as Studio's own download, which may go to the trash later."""
        sources = self.sources()
        if repo_id not in sources.downloads:
            sources.downloads.append(repo_id)
        sources.pending = [p for p in sources.pending if p != repo_id]
        sources.hidden = [h for h in sources.hidden if h != repo_id]
        sources.save(self.sources_file)
        self._snapshot = None

    def remove_from_list(self, entry: ModelEntry) -> None:
        """Stop listing the entry; its files stay where they are."""
        if entry.bundled:
            raise ModelError("The built-in demo model cannot be removed.")
        sources = self.sources()
        if str(entry.path) in sources.folders:
            sources.folders.remove(str(entry.path))
        elif entry.id not in sources.hidden:
            sources.hidden.append(entry.id)
        sources.save(self.sources_file)
        self._snapshot = None

    def move_to_trash(self, entry: ModelEntry) -> Path:
        """Send the entry's files to the trash (recoverable); only for files Studio owns."""
        if not entry.owned:
            raise ModelError(
                f"{entry.name} is not Studio's own copy, so Studio does not delete it. Remove it "
                "from the list instead, or delete it with the tool that made it."
            )
        target = repo_folder(self.hf_cache, entry.repo_id) if entry.repo_id else entry.path
        from send2trash import send2trash

        try:
            send2trash(str(target))
        except OSError as error:
            raise ModelError(f"{target} could not be moved to the trash: {error}") from None
        sources = self.sources()
        sources.downloads = [d for d in sources.downloads if d != entry.repo_id]
        sources.hidden = [h for h in sources.hidden if h != entry.id]
        sources.save(self.sources_file)
        self._snapshot = None
        return target

    def _scan(self, root: Path, source: str, *, owned: bool) -> list[ModelEntry]:
        found = [self._describe(p, source=source, owned=owned) for p in _model_folders(root)]
        found += [describe_file(p, source=source, owned=owned) for p in _checkpoint_files(root)]
        return found

    def _hub_entries(self, downloads: set[str]) -> list[ModelEntry]:
        root = self.hf_cache
        if not root.is_dir():
            return []
        found = []
        for repo in sorted(root.iterdir()):
            repo_id = repo_id_of(repo)
            if repo_id is None:
                continue
            snapshot = next((s for s in snapshots(repo) if is_runnable_pipeline(s)), None)
            if snapshot is None:
                continue
            owned = repo_id in downloads
            found.append(self._describe(
                snapshot, source=DOWNLOADED if owned else HF_CACHE, owned=owned, repo_id=repo_id
            ))
        return found

    def _describe(self, folder: Path, **kwargs: Any) -> ModelEntry:
        key = (str(folder), _mtime_ns(folder / "model_index.json"))
        if key not in self._details:
            self._details[key] = (disk_size(folder), folder_precision(folder))
        size, precision = self._details[key]
        return describe(folder, size_bytes=size, precision=precision, **kwargs)


def describe(
    folder: Path,
    *,
    bundled: bool = False,
    source: str = "",
    owned: bool = False,
    repo_id: str = "",
    size_bytes: int | None = None,
    precision: str | None = None,
) -> ModelEntry:
    """A ModelEntry from a folder's small JSON files and weight headers (no weights are read)."""
    info = _read_json(folder / STUDIO_MODEL_FILE)
    own_name = info.get("name")
    name = own_name if isinstance(own_name, str) and own_name else (repo_id or folder.name)
    return ModelEntry(
        id=folder.name if bundled else (repo_id or str(folder)),
        name=name,
        path=folder,
        family=detect_family(folder),
        description=info["description"] if isinstance(info.get("description"), str) else "",
        defaults=_defaults(info.get("defaults")),
        token_limit=_token_limit(folder),
        bundled=bundled,
        source=source or (BUILT_IN if bundled else ""),
        size_bytes=disk_size(folder) if size_bytes is None else size_bytes,
        precision=folder_precision(folder) if precision is None else precision,
        repo_id=repo_id,
        owned=owned,
    )


def describe_file(path: Path, *, source: str = "", owned: bool = False) -> ModelEntry:
    """A ModelEntry for a single-file checkpoint, from its header; a pickle file is never
    opened here, so its family stays unknown until it loads with consent."""
    family, precision, problem, defaults, is_pickle = "unknown", "", "", {}, False
    try:
        info = describe_checkpoint(path)
    except ModelError as error:
        problem = str(error)
    else:
        family, precision, problem = info.family, info.precision, info.problem
        defaults, is_pickle = dict(info.defaults), info.is_pickle
    return ModelEntry(
        id=str(path), name=path.stem, path=path, family=family, defaults=defaults,
        description=PICKLE_NOTE if is_pickle else "", source=source,
        size_bytes=_file_size(path), precision="" if is_pickle else precision, owned=owned,
        problem=problem, is_pickle=is_pickle,
    )


def detect_family(folder: Path) -> str:
    index = _read_json(folder / "model_index.json")
    pipeline = str(index.get("_class_name", ""))
    if pipeline in FAMILY_BY_PIPELINE:
        return FAMILY_BY_PIPELINE[pipeline]
    if pipeline == "StableDiffusionPipeline":
        unet = _read_json(folder / "unet" / "config.json")
        width = unet.get("cross_attention_dim")
        return {768: "SD 1.x", 1024: "SD 2.x"}.get(width if isinstance(width, int) else 0, "other")
    return "other"


def _token_limit(folder: Path) -> int | None:
    config = _read_json(folder / "tokenizer" / "tokenizer_config.json")
    limit = config.get("model_max_length")
    return int(limit) if isinstance(limit, int) and 0 < limit < 100_000 else None


def _model_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if (p / "model_index.json").is_file() and not _is_sidecar(p)
    )


def _is_sidecar(folder: Path) -> bool:
    """The config folder of a checkpoint beside it: part of that checkpoint, not a model."""
    if not folder.name.endswith(_SIDECAR_SUFFIX):
        return False
    stem = folder.name[: -len(_SIDECAR_SUFFIX)]
    return any((folder.parent / (stem + suffix)).is_file() for suffix in CHECKPOINT_SUFFIXES)


def _checkpoint_files(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if p.suffix.lower() in _WEIGHT_SUFFIXES and p.is_file()
    )


def _key(path: Path) -> str:
    return os.path.normcase(str(path.resolve()))


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _defaults(raw: object) -> dict[str, Any]:
    """A model's own default settings from its studio.json; a value of the wrong kind is left out,
    so the family's usual setting applies instead."""
    if not isinstance(raw, dict):
        return {}
    kinds: dict[str, tuple[type, ...]] = {
        "steps": (int,), "width": (int,), "height": (int,), "guidance": (int, float), "scheduler": (str,),
    }
    return {
        key: value for key, value in raw.items()
        if key in kinds and isinstance(value, kinds[key]) and not isinstance(value, bool)
        and (isinstance(value, str) or (isinstance(value, int | float) and abs(value) < 2**31))  # what a spin box holds
    }
