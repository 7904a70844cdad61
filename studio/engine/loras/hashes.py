"""The hashes AUTOMATIC1111 writes into infotext (`Lora hashes`, `TI hashes`), which model sites
look files up by, and a cache of them so that a library of thousands is hashed once.

- A .safetensors LoRA: sha256 of the tensor bytes only (after the 8-byte length and the JSON
  header), the "addnet" hash, so that editing the metadata keeps the hash.
- Any other LoRA file and every embedding: sha256 of the whole file.
The short hash is the first 12 hex digits of either.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from pathlib import Path
from typing import Any

from studio.config.atomic import SaveError, write_atomic

SHORT_HASH_LENGTH = 12
_BLOCK = 1024 * 1024
_CACHE_VERSION = 1


def addnet_sha256(path: Path) -> str:
    """sha256 (hex) of everything after the safetensors header, as AUTOMATIC1111 computes it."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        raw = handle.read(8)
        length = struct.unpack("<Q", raw)[0] if len(raw) == 8 else 0
        handle.seek(8 + length)
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 (hex) of the whole file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def short_hash(sha256: str) -> str:
    return sha256[:SHORT_HASH_LENGTH]


def uses_addnet_hash(path: Path, kind: str) -> bool:
    """Whether AUTOMATIC1111 hashes this file's tensors only (safetensors LoRAs) or all of it."""
    return kind == "lora" and path.suffix.lower() == ".safetensors"


class HashCache:
    """sha256 of add-on files, each kept with the file's size and modification time: a file
    that changes is hashed again. With a `store` the cache outlives the process; it is a
    cache, so a store that cannot be read or written costs time, never a failure."""

    def __init__(self, store: Path | None = None) -> None:
        self._store = store
        self._entries: dict[str, dict[str, Any]] = {}
        self._changed = False
        self._lock = threading.Lock()
        if store is not None:
            self._entries = _read_store(store)

    def sha256(self, path: Path, *, addnet: bool) -> str:
        """The hash of `path`, from the cache when the file is unchanged. Raises OSError."""
        stat = path.stat()
        key = f"{'addnet' if addnet else 'file'}:{path.resolve()}"
        with self._lock:
            entry = self._entries.get(key)
            if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
                return str(entry["sha256"])
        value = addnet_sha256(path) if addnet else file_sha256(path)
        with self._lock:
            self._entries[key] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": value}
            self._changed = True
        return value

    def save(self) -> None:
        """Write the cache if it changed, forgetting files that are gone."""
        if self._store is None:
            return
        with self._lock:
            if not self._changed:
                return
            kept = {key: entry for key, entry in self._entries.items() if Path(key.partition(":")[2]).is_file()}
            text = json.dumps({"version": _CACHE_VERSION, "entries": kept}, indent=0, sort_keys=True)
            self._changed = False
        try:
            write_atomic(self._store, text, durable=False)
        except SaveError:
            pass  # the hashes are computed again next time


def _read_store(store: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) and data.get("version") == _CACHE_VERSION else None
    if not isinstance(entries, dict):
        return {}
    return {
        str(key): entry
        for key, entry in entries.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("mtime_ns"), int)
    }

