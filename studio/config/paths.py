"""Where Studio keeps things. Everything hangs off one `StudioPaths` object that app.py
or the CLI builds and passes down; `STUDIO_HOME` puts all of it under one folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Studio"


@dataclass(frozen=True)
class StudioPaths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path
    gallery_dir: Path
    models_dir: Path

    @classmethod
    def default(cls) -> StudioPaths:
        home = os.environ.get("STUDIO_HOME")
        if home:
            return cls.under(Path(home))
        data = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
        return cls(
            config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
            data_dir=data,
            cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
            gallery_dir=Path(platformdirs.user_pictures_dir()) / APP_NAME,
            models_dir=data / "models",
        )

    @classmethod
    def under(cls, root: Path) -> StudioPaths:
        """All paths inside one folder: for tests, portable installs and `STUDIO_HOME`."""
        return cls(
            config_dir=root / "config",
            data_dir=root / "data",
            cache_dir=root / "cache",
            gallery_dir=root / "gallery",
            models_dir=root / "models",
        )

    @property
    def inputs_dir(self) -> Path:
        """Pictures a run starts from that live nowhere else: painted masks, pasted images."""
        return self.data_dir / "inputs"

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def styles_file(self) -> Path:
        """Prompt styles, in AUTOMATIC1111's styles.csv columns."""
        return self.config_dir / "styles.csv"

    @property
    def queue_file(self) -> Path:
        """The jobs waiting and the one running, kept as they change so a crash loses none."""
        return self.data_dir / "queue.json"

    @property
    def index_file(self) -> Path:
        return self.data_dir / "gallery.sqlite3"

    @property
    def thumbnail_dir(self) -> Path:
        return self.cache_dir / "thumbnails"

    @property
    def loras_dir(self) -> Path:
        """LoRA files; each subfolder is a category."""
        return self.models_dir / "loras"

    @property
    def embeddings_dir(self) -> Path:
        """Textual-inversion embeddings; each subfolder is a category."""
        return self.models_dir / "embeddings"

    @property
    def addon_hashes_file(self) -> Path:
        """The hashes of LoRA and embedding files, kept by size and modification time."""
        return self.cache_dir / "addon_hashes.json"

    @property
    def trigger_words_file(self) -> Path:
        """The trigger words people set for their LoRAs and embeddings."""
        return self.data_dir / "trigger_words.json"


def resources_dir() -> Path:
    """The bundled resources: inside the installed package, else the checkout's top level."""
    here = Path(__file__).resolve().parent.parent
    installed = here / "resources"
    if installed.is_dir():
        return installed
    return here.parent / "resources"


def bundled_models_dir() -> Path:
    return resources_dir() / "models"
