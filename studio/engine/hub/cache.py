"""The Hugging Face cache layout that other tools share, read without importing huggingface_hub.

    <cache>/models--org--name/refs/main              the commit "main" points at
    <cache>/models--org--name/snapshots/<commit>/...  links into blobs/
    <cache>/models--org--name/blobs/<etag>            file contents
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_PREFIX = "models--"


def hub_cache_dir() -> Path:
    """Where huggingface_hub keeps repos, read from the environment now (not at import)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        value = os.environ.get(name)
        if value:
            return Path(os.path.expandvars(value)).expanduser()
    home = os.environ.get("HF_HOME")
    if home:
        return Path(os.path.expandvars(home)).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def repo_folder(cache_dir: Path, repo_id: str) -> Path:
    return cache_dir / (REPO_PREFIX + repo_id.replace("/", "--"))


def repo_id_of(folder: Path) -> str | None:
    """"org/name" for a `models--org--name` folder, else None."""
    if not folder.name.startswith(REPO_PREFIX):
        return None
    return folder.name[len(REPO_PREFIX) :].replace("--", "/", 1)


def read_ref(folder: Path, ref: str = "main") -> str | None:
    try:
        commit = (folder / "refs" / ref).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return commit or None


def snapshots(folder: Path) -> list[Path]:
    """The repo's snapshots, the one `main` points at first, then newest first."""
    root = folder / "snapshots"
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir()]
    main = read_ref(folder)
    found.sort(key=lambda p: (p.name != main, -_mtime(p)))
    return found


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
