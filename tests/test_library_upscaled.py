"""An upscaled copy keeps what its source says of how it was made, and says how it was enlarged."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from studio.config.atomic import SaveError
from studio.engine.run.request import GenerationRequest
from studio.library.metadata.reader import read_metadata
from studio.library.pngchunks import read_png_metadata
from studio.library.store import save_image
from studio.library.upscaled import save_upscaled


def test_the_source_metadata_is_kept_and_the_upscale_added(tmp_path: Path) -> None:
    request = GenerationRequest(prompt="a lighthouse at dusk", seed=5, steps=9, width=64, height=48)
    source = save_image(Image.new("RGB", (64, 48), (20, 40, 60)), request, tmp_path / "gallery", dated=False)
    copy = save_upscaled(Image.new("RGB", (128, 96)), source, 2, "Lanczos", tmp_path / "gallery", dated=False)
    assert copy.name.endswith("seed5-a-lighthouse-at-dusk_2x_lanczos.png")
    texts = read_png_metadata(copy).texts
    assert texts["postprocessing"] == "Postprocess upscale by: 2, Postprocess upscaler: Lanczos"
    meta = read_metadata(copy)
    assert meta.prompt == "a lighthouse at dusk" and meta.seed == 5
    again = save_upscaled(Image.new("RGB", (128, 96)), source, 2, "Lanczos", tmp_path / "gallery", dated=False)
    assert again != copy and copy.is_file()  # never over an existing file


def test_a_picture_from_elsewhere_is_upscaled_without_metadata(tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    Image.new("RGB", (10, 10)).save(source)
    copy = save_upscaled(Image.new("LA", (20, 20)), source, 2, "4x Model", tmp_path, dated=False)
    assert set(read_png_metadata(copy).texts) == {"postprocessing"}
    with Image.open(copy) as image:
        assert image.mode == "RGBA" and image.size == (20, 20)


def test_a_folder_that_cannot_be_written_is_a_save_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SaveError):
        save_upscaled(Image.new("RGB", (4, 4)), tmp_path / "x.png", 2, "Lanczos", blocker, dated=False)
