"""A small LoRA and embedding library for the window's tests: real tiny files made for the tiny
SD model (tests/tiny_loras.py), written once per module and copied into each test's folders."""

from __future__ import annotations

import shutil
from pathlib import Path

from studio.config.paths import StudioPaths
from tests.tiny_loras import embedding_width, kohya_metadata, write_diffusers_lora, write_embedding, write_kohya_lora

MIKU_TAGS = {"twintails": 30, "blue hair": 20, "miku": 12}
SDXL_ARCHITECTURE = {"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}


def write_samples(folder: Path, model: Path) -> Path:
    """loras/characters/Miku (SD 1.x, trigger words), loras/detail-xl (SDXL), loras/broken
    (not a safetensors file) and embeddings/badhands, under `folder`."""
    loras, embeddings = folder / "loras", folder / "embeddings"
    write_kohya_lora(loras / "characters" / "Miku.safetensors", model, metadata=kohya_metadata(MIKU_TAGS))
    write_diffusers_lora(loras / "detail-xl.safetensors", model, metadata=SDXL_ARCHITECTURE)
    (loras / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    embeddings.mkdir(parents=True, exist_ok=True)
    write_embedding(embeddings / "badhands.safetensors", width=embedding_width(model))
    return folder


def install_samples(samples: Path, paths: StudioPaths) -> None:
    """Copy the sample files into `paths`' loras/ and embeddings/ folders."""
    shutil.copytree(samples / "loras", paths.loras_dir, dirs_exist_ok=True)
    shutil.copytree(samples / "embeddings", paths.embeddings_dir, dirs_exist_ok=True)
