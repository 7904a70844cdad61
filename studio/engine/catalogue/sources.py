"""Where models come from beyond the defaults: folders a person added, entries they hid,
and the Hugging Face repos Studio downloaded (and so may move to the trash).

Kept in `<config>/model_sources.json`, written atomically; a damaged file reads as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.config.atomic import write_atomic

SOURCES_FILE = "model_sources.json"
SCHEMA_VERSION = 1


@dataclass
class ModelSources:
    folders: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # entry ids removed from the list
    downloads: list[str] = field(default_factory=list)  # repo ids Studio downloaded
    pending: list[str] = field(default_factory=list)  # downloads started and not finished

    @classmethod
    def load(cls, path: Path) -> ModelSources:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(
            folders=_strings(data.get("folders")),
            hidden=_strings(data.get("hidden")),
            downloads=_strings(data.get("downloads")),
            pending=_strings(data.get("pending")),
        )

    def save(self, path: Path) -> None:
        data = {
            "schema_version": SCHEMA_VERSION,
            "folders": self.folders,
            "hidden": self.hidden,
            "downloads": self.downloads,
            "pending": self.pending,
        }
        write_atomic(path, json.dumps(data, indent=2) + "\n")


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if isinstance(v, str) and v]
