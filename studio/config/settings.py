"""Typed user settings, stored as JSON with a schema version and ordered migrations.

Qt-free and torch-free. A file that cannot be read is moved aside, never deleted; a file
written by a newer Studio is copied aside before it is first overwritten.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from studio.config.atomic import write_atomic
from studio.config.shown import shown
from studio.config.stored_json import load_json, move_aside

SCHEMA_VERSION = 4
INT_RANGE = (-(2**31), 2**32 - 1)  # what the controls hold (the seed needs 32 bits)

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Version 1 kept the window geometry at the top level and the preview setting as a flat key.
    out = dict(data)
    window = out.pop("window", None)
    if window is None or isinstance(window, Mapping):
        window = dict(window or {})
        if "geometry" in out:
            window.setdefault("geometry", out.pop("geometry"))
    out["window"] = window  # anything else is reported, and ignored, when the sections are read
    preview = out.get("preview")
    if preview is None or isinstance(preview, Mapping):
        preview = dict(preview or {})
        if "preview_every" in out:
            preview.setdefault("every", out.pop("preview_every"))
        out["preview"] = preview
    return out


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    # Version 3 added the folders of LoRAs and embeddings beyond the models folder's own. The
    # version says that a Studio without them would drop them on saving, so it keeps a copy.
    out = dict(data)
    out.setdefault("lora_folders", [])
    out.setdefault("embedding_folders", [])
    return out


def _v3_to_v4(data: dict[str, Any]) -> dict[str, Any]:
    # Version 4 added where runs go (this computer or a `studio serve` server); older files ran
    # locally. The version keeps an older Studio from dropping a chosen server on saving.
    out = dict(data)
    out.setdefault("engine", {"kind": "local", "server_url": "", "token": ""})
    return out


# Index i upgrades a file of version i + 1 to version i + 2. Append only; never reorder.
MIGRATIONS: tuple[Migration, ...] = (_v1_to_v2, _v2_to_v3, _v3_to_v4)


@dataclass
class WindowState:
    geometry: str = ""  # base64 of QWidget.saveGeometry()
    state: str = ""  # base64 of QMainWindow.saveState()
    splitter: str = ""  # base64 of the main splitter's saveState()


@dataclass
class LastParameters:
    """The controls as the user left them."""

    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    random_seed: bool = True
    steps: int | None = None  # None: the model's default
    guidance: float | None = None
    width: int | None = None
    height: int | None = None
    scheduler: str | None = None
    model: str = ""
    batch: int = 1


@dataclass
class PreviewSettings:
    enabled: bool = True
    every: int = 1  # show a preview every N steps
    decoder: str = "auto"  # "auto", "linear", "tiny" or "vae"


ENGINE_KINDS = ("local", "remote")


@dataclass(frozen=True)
class EngineSettings:
    """Where runs go: this computer's engine, or a `studio serve` server at `server_url`.

    The token is kept here in plain text (the settings file is the user's own); the app shows
    it masked. Frozen, so the GUI thread replaces it whole while the worker reads it."""

    kind: str = "local"  # one of ENGINE_KINDS
    server_url: str = ""  # http://HOST:PORT
    token: str = ""

    @property
    def remote(self) -> bool:
        return self.kind == "remote"


@dataclass
class Settings:
    schema_version: int = SCHEMA_VERSION
    window: WindowState = field(default_factory=WindowState)
    last: LastParameters = field(default_factory=LastParameters)
    preview: PreviewSettings = field(default_factory=PreviewSettings)
    gallery_dir: str | None = None  # None: the platform's default pictures folder
    # Folders of LoRAs and embeddings besides the models folder's loras/ and embeddings/
    lora_folders: list[str] = field(default_factory=list)
    embedding_folders: list[str] = field(default_factory=list)
    # models (ids as the picker lists them, or folder paths) that take the compiled fast path
    fast_path_models: list[str] = field(default_factory=list)
    engine: EngineSettings = field(default_factory=EngineSettings)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> tuple[Settings, list[str]]:
        """Settings from a migrated dict, plus a note for every value that was ignored."""
        notes: list[str] = []
        settings = Settings(
            window=_section(WindowState, data.get("window"), "window", notes),
            last=_section(LastParameters, data.get("last"), "last", notes),
            preview=_section(PreviewSettings, data.get("preview"), "preview", notes),
        )
        gallery = data.get("gallery_dir")
        if gallery is None or isinstance(gallery, str):
            settings.gallery_dir = gallery or None
        else:
            notes.append(f"Ignored gallery_dir {shown(gallery)}: it is not a folder path.")
        settings.lora_folders = _folders(data.get("lora_folders"), "lora_folders", notes)
        settings.embedding_folders = _folders(data.get("embedding_folders"), "embedding_folders", notes)
        fast = data.get("fast_path_models", [])
        if isinstance(fast, list) and all(isinstance(m, str) for m in fast):
            settings.fast_path_models = list(fast)
        else:
            notes.append(f"Ignored fast_path_models {shown(fast)}: expected a list of model names.")
        engine = _section(EngineSettings, data.get("engine"), "engine", notes)
        if engine.kind not in ENGINE_KINDS:
            notes.append(f"Ignored engine.kind = {shown(engine.kind)}: expected 'local' or 'remote'.")
            engine = dataclasses.replace(engine, kind="local")
        settings.engine = engine
        return settings, notes


@dataclass
class LoadedSettings:
    settings: Settings
    notes: list[str]  # what could not be read, in words; empty when all went well


def migrate(
    data: dict[str, Any], migrations: Sequence[Migration] = MIGRATIONS
) -> dict[str, Any]:
    """Run every migration from the file's version up to the newest this code knows."""
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        version = 1
    for step in migrations[version - 1 :]:
        data = step(data)
    data["schema_version"] = max(version, len(migrations) + 1)
    return data


def load_settings(path: Path) -> LoadedSettings:
    """Settings from `path`; defaults when there is no file. Never raises for bad content:
    a file that cannot be understood at all is moved aside and the notes say so."""
    loaded = load_json(path, "The settings file")
    if loaded.data is None:
        return LoadedSettings(Settings(), loaded.notes)
    data = loaded.data
    if not isinstance(data, dict):
        aside = move_aside(path)
        return LoadedSettings(Settings(), [
            f"The settings file does not hold settings (a JSON {type(data).__name__}); "
            f"Studio started with defaults and kept it as {aside.name}."
        ])
    file_version = data.get("schema_version", 1)
    notes: list[str] = []
    if isinstance(file_version, int) and not isinstance(file_version, bool) and file_version > SCHEMA_VERSION:
        aside = _copy_aside(path, f"v{file_version}")
        notes.append(
            f"Settings were written by a newer Studio (version {file_version}); "
            f"read what this version knows and kept a copy as {aside.name}."
        )
    try:
        settings, more = Settings.from_dict(migrate(data))
    except Exception:  # a shape no migration foresaw: defaults beat not starting
        aside = move_aside(path)
        return LoadedSettings(Settings(), [
            f"The settings file could not be understood; Studio started with defaults and kept it as {aside.name}."
        ])
    settings.schema_version = SCHEMA_VERSION
    return LoadedSettings(settings, notes + more)


def save_settings(settings: Settings, path: Path) -> None:
    """Write atomically; raises SaveError (an OSError is never half a file)."""
    data = settings.to_dict()
    data["schema_version"] = SCHEMA_VERSION
    # a server's token is a password: the file that holds one is for its owner's eyes only
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                 private=bool(settings.engine.token))


T = TypeVar("T")


def _section(cls: type[T], raw: object, name: str, notes: list[str]) -> T:
    """Build one dataclass section, keeping every value whose type fits the field."""
    default = cls()
    if raw is None:
        return default
    if not isinstance(raw, Mapping):
        notes.append(f"Ignored the {name!r} settings: expected an object, found {shown(raw)}.")
        return default
    values: dict[str, Any] = {}
    for f in dataclasses.fields(default):  # type: ignore[arg-type]
        if f.name not in raw:
            continue
        value = raw[f.name]
        if _fits(value, getattr(default, f.name), f.type):
            values[f.name] = value
        else:
            notes.append(f"Ignored {name}.{f.name} = {shown(value)}: wrong kind of value.")
    return dataclasses.replace(default, **values)  # type: ignore[type-var]


def _folders(raw: object, name: str, notes: list[str]) -> list[str]:
    """A list of folder paths, keeping each entry that is a non-empty text, once."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        notes.append(f"Ignored {name} = {shown(raw)}: expected a list of folder paths.")
        return []
    folders: list[str] = []
    for item in raw:
        if isinstance(item, str) and item.strip():
            if item not in folders:
                folders.append(item)
        else:
            notes.append(f"Ignored {shown(item)} in {name}: it is not a folder path.")
    return folders


def _fits(value: object, default: object, annotation: object) -> bool:
    optional = isinstance(annotation, str) and "None" in annotation
    if value is None:
        return optional or default is None
    text = str(annotation)
    if isinstance(value, bool):
        return "bool" in text
    if isinstance(value, int):
        # a number no control can hold is as wrong as a string (and would overflow Qt's int)
        return ("int" in text or "float" in text) and INT_RANGE[0] <= value <= INT_RANGE[1]
    if isinstance(value, float):
        return "float" in text and value == value and abs(value) <= INT_RANGE[1]
    if isinstance(value, str):
        return "str" in text
    return False


def _copy_aside(path: Path, label: str) -> Path:
    aside = path.with_name(f"{path.name}.{label}.bak")
    if not aside.exists():
        try:
            aside.write_bytes(path.read_bytes())
        except OSError:
            return path
    return aside

