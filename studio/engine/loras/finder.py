"""The LoRA and embedding library as runs look names up in it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from studio.engine.run.addons import FoundAddOn

_FOLDERS = {"lora": "loras", "embedding": "embeddings"}
_SUFFIXES = (".safetensors", ".pt", ".pth", ".ckpt", ".bin")


class LibraryFinder:
    """Finds LoRAs in the models folder's loras/ and embeddings in its embeddings/ (subfolders
    included), plus any extra folders, by file name without the extension."""

    def __init__(self, models_dir: Path, extra: Sequence[Path] = ()) -> None:
        self.models_dir = models_dir
        self.extra = tuple(extra)

    def folders(self, kind: str) -> list[Path]:
        return [self.models_dir / _FOLDERS[kind], *self.extra]

    def where(self, kind: str) -> str:
        return " or ".join(str(f) for f in self.folders(kind))

    def names(self, kind: str) -> list[str]:
        return sorted({p.stem for p in self._files(kind)})

    def find(self, kind: str, name: str) -> FoundAddOn | None:
        wanted = name.replace("\\", "/").lower()
        for path in self._files(kind):
            if path.stem.lower() == wanted.rsplit("/", 1)[-1]:
                return FoundAddOn(path.stem, path, short_hash(path, whole_file=kind == "embedding"))
        return None

    def family_problem(self, found: FoundAddOn, kind: str, model_family: str) -> str | None:
        return None

    def _files(self, kind: str) -> list[Path]:
        found: list[Path] = []
        for folder in self.folders(kind):
            if folder.is_dir():
                found.extend(sorted(p for p in folder.rglob("*") if p.suffix.lower() in _SUFFIXES and p.is_file()))
        return found


def short_hash(path: Path, *, whole_file: bool = False) -> str:
    """AUTOMATIC1111's short hash, the first 12 hex digits of a sha256: for a LoRA in
    safetensors of its tensor bytes (after the header), else of the whole file."""
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as file:
        if path.suffix.lower() == ".safetensors" and not whole_file:
            file.seek(8 + int.from_bytes(file.read(8), "little"))
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]
