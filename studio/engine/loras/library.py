"""The library of LoRAs and embeddings: the files in the models folder's `loras/` and `embeddings/`
(each subfolder a category) and in folders the person adds, each described from its header alone.

Listing never loads a tensor and never unpickles: a .safetensors file is read up to the end of
its JSON header (bounded); a pickle file (.pt, .ckpt, .bin, .pth) is listed by name and size,
marked as needing the person's consent before anything opens it. A file that cannot be used is
listed with the reason instead of stopping the scan.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from studio.config.paths import StudioPaths
from studio.config.settings import Settings
from studio.engine.catalogue.checkpoints import PICKLE_SUFFIXES, PickleConsent, detect_family, pickle_refusal
from studio.engine.loras.families import (
    UNKNOWN,
    family_from_metadata,
    family_from_model_name,
    family_from_shapes,
    family_mismatch,
    looks_like_embedding,
    looks_like_lora,
)
from studio.engine.loras.hashes import HashCache, short_hash, uses_addnet_hash
from studio.engine.loras.headers import AddOnHeader, UnreadableHeader, read_addon_header
from studio.engine.loras.triggers import TriggerWordStore, training_words

KINDS = ("lora", "embedding")
SAFETENSORS_SUFFIX = ".safetensors"
ADDON_SUFFIXES = (SAFETENSORS_SUFFIX, *PICKLE_SUFFIXES)
PREVIEW_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_FILES = 50_000  # per scan; a folder with more is most likely not a LoRA folder


@dataclass(frozen=True)
class AddOn:
    """One LoRA or embedding file, as listed. `family` is "unknown" when neither the metadata
    nor the shapes tell; `short_hash` is "" when it was not computed; `problem` is "" when
    the file can be used (a pickle file also needs consent: `needs_consent`)."""

    kind: str  # "lora" or "embedding"
    name: str  # the file name without its suffix: what `<lora:NAME:w>` and prompts use
    path: Path
    category: str  # the subfolder, "/"-separated ("characters/anime"); "" at the top
    family: str
    trigger_words: tuple[str, ...]  # the person's own when set, else the training words
    training_words: tuple[str, ...]  # from the training metadata
    preview: Path | None
    size: int  # bytes on disk
    short_hash: str = ""
    sha256: str = ""
    needs_consent: bool = False
    problem: str = ""
    alias: str = ""  # the name the trainer gave it (kohya's ss_output_name), "" when none

    @property
    def usable(self) -> bool:
        return not self.problem

    @property
    def reference(self) -> str:
        """The name with its category, "characters/anime/miku", unique where stems repeat."""
        return f"{self.category}/{self.name}" if self.category else self.name


@dataclass(frozen=True)
class AddOnFolder:
    """A folder to scan and the kind of add-on it holds (a file's header can say otherwise)."""

    path: Path
    kind: str


def default_folders(
    paths: StudioPaths, lora_folders: Iterable[str | Path] = (), embedding_folders: Iterable[str | Path] = ()
) -> list[AddOnFolder]:
    """The models folder's loras/ and embeddings/, then the person's own folders, each once."""
    folders = [AddOnFolder(paths.loras_dir, "lora"), AddOnFolder(paths.embeddings_dir, "embedding")]
    folders += [AddOnFolder(Path(p).expanduser(), "lora") for p in lora_folders]
    folders += [AddOnFolder(Path(p).expanduser(), "embedding") for p in embedding_folders]
    unique: list[AddOnFolder] = []
    seen: set[Path] = set()
    for folder in folders:
        key = folder.path.resolve() if folder.path.exists() else folder.path
        if key not in seen:
            seen.add(key)
            unique.append(folder)
    return unique


class AddOnLibrary:
    """Lists, searches and resolves LoRAs and embeddings. Build one per app (app.py, the CLI)
    and pass it down; `scan()` reads files (and hashes new ones): call it off the GUI thread.
    The last scan is kept and returned at once by `snapshot()`."""

    def __init__(
        self,
        folders: Sequence[AddOnFolder],
        *,
        hashes: HashCache | None = None,
        triggers: TriggerWordStore | None = None,
    ) -> None:
        self.folders = tuple(folders)
        self.hashes = hashes or HashCache()
        self.triggers = triggers or TriggerWordStore()
        self.notes: list[str] = list(self.triggers.notes)
        self._lock = threading.Lock()
        self._snapshot: list[AddOn] | None = None
        # Each file as last described, by (size, mtime, category, folder kind): a rescan reads
        # only the headers of files that changed, so it costs a stat per file.
        self._described: dict[Path, tuple[tuple[int, int, str, str], AddOn]] = {}

    @classmethod
    def for_studio(cls, paths: StudioPaths, settings: Settings | None = None) -> AddOnLibrary:
        """The library of `paths` and the folders `settings` adds, with its caches in place."""
        extra_loras = settings.lora_folders if settings else []
        extra_embeddings = settings.embedding_folders if settings else []
        return cls(
            default_folders(paths, extra_loras, extra_embeddings),
            hashes=HashCache(paths.addon_hashes_file),
            triggers=TriggerWordStore(paths.trigger_words_file),
        )

    def scan(self, *, with_hashes: bool = True) -> list[AddOn]:
        """Every add-on file in the folders, sorted by kind, category and name. Files unchanged
        since an earlier scan are not read again; without `with_hashes` only the hashes already
        known are given (`hash_of` computes one)."""
        found: list[AddOn] = []
        notes: list[str] = list(self.triggers.notes)
        for folder in self.folders:
            for path, category, beside in _files(folder.path, notes, MAX_FILES - len(found)):
                found.append(self._describe(path, folder.kind, category, beside))
        if with_hashes:
            found = [self._with_hash(addon) for addon in found]
            self.hashes.save()
        found.sort(key=lambda a: (KINDS.index(a.kind), a.category.lower(), a.name.lower(), str(a.path)))
        with self._lock:
            self._snapshot = found
            self.notes = notes
        return list(found)

    def snapshot(self) -> list[AddOn]:
        """The last scan (scanning first if there was none)."""
        with self._lock:
            if self._snapshot is not None:
                return list(self._snapshot)
        return self.scan()

    def search(self, query: str, kind: str | None = None) -> list[AddOn]:
        return search_addons(self.snapshot(), query, kind)

    def find(self, name: str, kind: str | None = "lora") -> AddOn | None:
        """The add-on a prompt names; rescans once when the last scan does not have it."""
        found = find_addon(self.snapshot(), name, kind)
        return found if found is not None else find_addon(self.scan(), name, kind)

    def hash_of(self, addon: AddOn) -> AddOn:
        """`addon` with its hash (computed now unless cached); unchanged when the file cannot be read."""
        return self._with_hash(addon)

    def set_trigger_words(self, addon: AddOn, words: Sequence[str] | None) -> AddOn:
        """Set the person's trigger words for `addon` (None: back to the training words) and
        return it updated, in the snapshot too. Raises SaveError when they cannot be saved."""
        if words is None:
            self.triggers.clear(addon.path)
            updated = replace(addon, trigger_words=addon.training_words)
        else:
            updated = replace(addon, trigger_words=self.triggers.set(addon.path, words))
        with self._lock:
            if self._snapshot is not None:
                self._snapshot = [updated if a.path == addon.path else a for a in self._snapshot]
        return updated

    def _describe(self, path: Path, kind: str, category: str, beside: Mapping[str, str]) -> AddOn:
        try:
            stat = path.stat()
        except OSError:
            return describe_addon(path, kind, category, self.triggers, beside=beside)
        key = (stat.st_size, stat.st_mtime_ns, category, kind)
        with self._lock:
            known = self._described.get(path)
        if known is not None and known[0] == key:
            own = self.triggers.get(path)  # the words and the preview can change beside an unchanged file
            return replace(known[1], trigger_words=own if own is not None else known[1].training_words,
                           preview=find_preview(path, beside))
        addon = describe_addon(path, kind, category, self.triggers, beside=beside)
        with self._lock:
            self._described[path] = (key, addon)
        return addon

    def _with_hash(self, addon: AddOn) -> AddOn:
        if addon.short_hash or addon.problem:
            return addon
        try:
            full = self.hashes.sha256(addon.path, addnet=uses_addnet_hash(addon.path, addon.kind))
        except OSError:
            return addon
        hashed = replace(addon, sha256=full, short_hash=short_hash(full))
        with self._lock:
            known = self._described.get(addon.path)
            if known is not None and known[1].path == addon.path:
                self._described[addon.path] = (known[0], replace(known[1], sha256=full, short_hash=hashed.short_hash))
        return hashed


def describe_addon(
    path: Path,
    kind: str,
    category: str = "",
    triggers: TriggerWordStore | None = None,
    *,
    beside: Mapping[str, str] | None = None,
) -> AddOn:
    """One file as the library lists it, read from its header only; never raises for a bad file.
    `beside` is its folder's listing as `find_preview` takes it, when the caller has it."""
    name = path.stem
    try:
        size = path.stat().st_size
    except OSError as error:
        return AddOn(kind, name, path, category, UNKNOWN, (), (), None, 0,
                     problem=_unusable(path, f"it cannot be read ({error.strerror or 'input/output error'})"))
    preview = find_preview(path, beside)
    own = triggers.get(path) if triggers is not None else None
    if path.suffix.lower() != SAFETENSORS_SUFFIX:
        return AddOn(kind, name, path, category, UNKNOWN, own or (), (), preview, size, needs_consent=True)
    try:
        header = read_addon_header(path)
    except (UnreadableHeader, OSError) as error:
        reason = str(error) if isinstance(error, UnreadableHeader) else (
            f"it cannot be read ({error.strerror or 'input/output error'})")
        return AddOn(kind, name, path, category, UNKNOWN, own or (), (), preview, size, problem=_unusable(path, reason))
    kind, problem = _kind_of(header, kind, path)
    words = training_words(header.metadata)
    return AddOn(
        kind, name, path, category, _family(header, kind), own if own is not None else words, words,
        preview, size, problem=problem, alias=header.metadata.get("ss_output_name", "").strip(),
    )


def find_preview(path: Path, beside: Mapping[str, str] | None = None) -> Path | None:
    """NAME.preview.png (or .jpg, .jpeg, .webp), else NAME.png... beside the file, in any letter case.
    `beside` maps each lower-case name in the file's folder to the name itself (read here if not given:
    a scan passes it, so that a folder of thousands is listed once, not once a file)."""
    if beside is None:
        try:
            beside = _listing(entry.name for entry in os.scandir(path.parent))
        except OSError:
            return None
    stem = path.stem.lower()
    for middle in (".preview", ""):
        for suffix in PREVIEW_SUFFIXES:
            found = beside.get(f"{stem}{middle}{suffix}")
            if found is not None:
                return path.with_name(found)
    return None


def search_addons(addons: Iterable[AddOn], query: str, kind: str | None = None) -> list[AddOn]:
    """The add-ons where every word of `query` is found (any letter case) in the name, alias,
    category or a trigger word; all of them for an empty query."""
    terms = query.lower().split()
    results = []
    for addon in addons:
        if kind is not None and addon.kind != kind:
            continue
        fields = [addon.name, addon.alias, addon.category, *addon.trigger_words]
        haystack = "\n".join(fields).lower()
        if all(term in haystack for term in terms):
            results.append(addon)
    return results


def find_addon(addons: Iterable[AddOn], name: str, kind: str | None = "lora") -> AddOn | None:
    """The add-on that `<lora:NAME:w>` (or an embedding's name in a prompt) means: its file name
    without suffix in any letter case, "category/name" where names repeat, else the name its
    trainer gave it. Where several match: the exact letter case, then a usable file, then the
    one nearest the top folder."""
    wanted = name.strip().replace("\\", "/").strip("/")
    if not wanted:
        return None
    lower = wanted.lower()
    candidates = [a for a in addons if kind is None or a.kind == kind]
    for matches in (
        [a for a in candidates if a.reference.lower() == lower],
        [a for a in candidates if a.name.lower() == lower],
        [a for a in candidates if a.alias and a.alias.lower() == lower],
    ):
        if matches:
            return min(matches, key=lambda a: (a.name != wanted and a.reference != wanted, not a.usable,
                                               a.category.count("/") + bool(a.category), str(a.path)))
    return None


def family_problem(addon: AddOn, model_family: str) -> str | None:
    """Why `addon` cannot be used with a model of `model_family` (both families named), or None
    when they match or either family is unknown."""
    return family_mismatch(addon.name, addon.kind, addon.family, model_family)


def consent_problem(addon: AddOn, consent: PickleConsent | None) -> str | None:
    """Why a pickle add-on may not be opened yet, or None when it is safetensors or allowed."""
    if not addon.needs_consent or (consent is not None and consent.allows(addon.path)):
        return None
    return pickle_refusal(addon.path)


def _listing(names: Iterable[str]) -> dict[str, str]:
    return {name.lower(): name for name in names}


def _files(root: Path, notes: list[str], budget: int) -> Iterable[tuple[Path, str, Mapping[str, str]]]:
    """(file, category, its folder's listing) for each add-on file under `root`, hidden folders
    and files skipped."""
    if not root.is_dir():
        return
    count = 0
    for folder, subfolders, names in os.walk(root, followlinks=False):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        here = Path(folder)
        category = here.relative_to(root).as_posix()
        beside = _listing(names)
        for name in sorted(names):
            if name.startswith(".") or not name.lower().endswith(ADDON_SUFFIXES):
                continue
            if count >= budget:
                notes.append(f"Stopped listing {root} after {MAX_FILES:,} files; move the rest to another folder.")
                return
            count += 1
            yield here / name, "" if category == "." else category, beside


def _kind_of(header: AddOnHeader, folder_kind: str, path: Path) -> tuple[str, str]:
    """(kind, problem): what the tensors are, whichever folder the file lies in."""
    if looks_like_embedding(header.shapes):
        return "embedding", ""
    if looks_like_lora(header.shapes):
        return "lora", ""
    family, _ = detect_family(header.shapes)
    if family != UNKNOWN:
        return folder_kind, _unusable(path, f"it is a whole {family} model, not a LoRA or embedding; "
                                            "put it in the models folder")
    if not header.shapes:
        return folder_kind, _unusable(path, "it holds no tensors")
    return folder_kind, _unusable(path, "its tensors are neither LoRA weights nor embedding vectors")


def _family(header: AddOnHeader, kind: str) -> str:
    return (
        family_from_metadata(header.metadata)
        or family_from_shapes(header.shapes, kind=kind)
        or family_from_model_name(header.metadata.get("ss_sd_model_name", ""))
        or UNKNOWN
    )


def _unusable(path: Path, reason: str) -> str:
    return f"{path.name} cannot be used: {reason}."
