"""Saving: readable names in dated folders, metadata inside, atomic writes that fail cleanly."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image

from studio.config.atomic import SaveError
from studio.engine.run.request import GenerationRequest
from studio.library.pngchunks import read_png_metadata
from studio.library.store import save_image, slugify

MOMENT = datetime(2024, 5, 1, 13, 45, 2)
REQUEST = GenerationRequest("A red fox, in the snow!", seed=1234, model="demo")


def test_dated_folder_and_readable_name(tmp_path: Path) -> None:
    image = Image.new("RGB", (64, 48), (10, 200, 30))
    path = save_image(image, REQUEST, tmp_path, now=MOMENT)
    assert path == tmp_path / "2024-05-01" / "2024-05-01_13-45-02_seed1234_a-red-fox-in-the-snow.png"
    with Image.open(path) as saved:
        assert saved.size == (64, 48)
        assert saved.getpixel((5, 5)) == (10, 200, 30)
    again = save_image(image, REQUEST, tmp_path, now=MOMENT)
    assert again.name == "2024-05-01_13-45-02_seed1234_a-red-fox-in-the-snow (2).png"
    assert path.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, again.name])


def test_slugs() -> None:
    assert slugify("Photo of a Cat, 8k!!") == "photo-of-a-cat-8k"
    assert slugify("夜の東京、ネオン") == "夜の東京-ネオン"
    assert slugify("") == ""
    long = slugify("word " * 40)
    assert len(long) <= 48 and not long.endswith("-")


def test_extra_chunks_round_trip(tmp_path: Path) -> None:
    film = bytes(range(256)) * 100
    path = save_image(Image.new("RGB", (8, 8)), REQUEST, tmp_path, extra_chunks={"stFm": film})
    assert read_png_metadata(path).private[b"stFm"] == film
    with pytest.raises(ValueError, match="ancillary"):
        save_image(Image.new("RGB", (8, 8)), REQUEST, tmp_path, extra_chunks={"IDAT": b""})


def test_unwritable_place_raises_save_error_and_keeps_the_image(tmp_path: Path) -> None:
    blocker = tmp_path / "gallery"
    blocker.write_text("a file where the gallery folder should be")
    image = Image.new("RGB", (8, 8))
    with pytest.raises(SaveError, match="Could not write") as caught:
        save_image(image, REQUEST, blocker, now=MOMENT)
    assert caught.value.image is image
    assert blocker.read_text().startswith("a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path: Path) -> None:
    day = tmp_path / "2024-05-01"
    day.mkdir()
    day.chmod(0o500)
    try:
        with pytest.raises(SaveError, match="permission"):
            save_image(Image.new("RGB", (8, 8)), REQUEST, tmp_path, now=MOMENT)
        assert list(day.iterdir()) == []
    finally:
        day.chmod(0o700)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_disk_full_mid_write_leaves_no_partial_file(tmp_path: Path) -> None:
    """A real short write: the file size limit stops the write part way, as a full disk does."""
    script = textwrap.dedent(
        f"""
        import random, resource, signal
        from datetime import datetime
        from pathlib import Path
        from PIL import Image
        from studio.engine.run.request import GenerationRequest
        from studio.config.atomic import SaveError
        from studio.library.store import save_image
        noise = Image.frombytes("RGB", (256, 256), random.randbytes(256 * 256 * 3))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
        try:
            save_image(noise, GenerationRequest("x", seed=1), Path({str(tmp_path)!r}),
                       now=datetime(2024, 5, 1))
        except SaveError as error:
            assert error.image is noise
            print("SAVE ERROR:", error)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "SAVE ERROR: Could not write" in result.stdout
    assert "not enough space" in result.stdout
    day = tmp_path / "2024-05-01"
    assert list(day.iterdir()) == []  # neither the image nor a temporary file
