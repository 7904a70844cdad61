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


def _recording_fsync(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The real os.fsync, noting which file or folder each call made durable."""
    synced: list[Path] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names open files through /proc")
def test_new_folders_are_made_durable_in_their_parents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A power cut after the save must not take away a dated folder made for it, image and all."""
    root = tmp_path.resolve()
    synced = _recording_fsync(monkeypatch)
    path = save_image(Image.new("RGB", (8, 8)), REQUEST, root / "gallery", now=MOMENT)
    assert path.parent in synced  # the rename into the dated folder
    assert root / "gallery" in synced  # the new dated folder's name in the gallery
    assert root in synced  # the new gallery folder's name in its parent
    synced.clear()
    save_image(Image.new("RGB", (8, 8)), REQUEST, root / "gallery", now=MOMENT)
    assert synced.count(path.parent) == 1 and root / "gallery" not in synced  # existing folders cost nothing


def test_undated_save_goes_straight_into_the_folder(tmp_path: Path) -> None:
    image = Image.new("RGB", (16, 16), (1, 2, 3))
    first = save_image(image, REQUEST, tmp_path / "out", now=MOMENT, dated=False)
    second = save_image(image, REQUEST, tmp_path / "out", now=MOMENT, dated=False)
    assert first == tmp_path / "out" / "2024-05-01_13-45-02_seed1234_a-red-fox-in-the-snow.png"
    assert second.name == "2024-05-01_13-45-02_seed1234_a-red-fox-in-the-snow (2).png"
    with Image.open(second) as saved:
        assert saved.text["parameters"].startswith("A red fox, in the snow!\n")
        assert saved.getpixel((0, 0)) == (1, 2, 3)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)], ids=["022", "077", "002"])
def test_saved_files_get_the_mode_the_umask_gives(tmp_path: Path, umask: int, mode: int) -> None:
    """Images are shared files: 0644 under the usual umask 022, never a temporary file's 0600."""
    previous = os.umask(umask)
    try:
        dated = save_image(Image.new("RGB", (8, 8)), REQUEST, tmp_path, now=MOMENT)
        undated = save_image(Image.new("RGB", (8, 8)), REQUEST, tmp_path / "out", dated=False)
    finally:
        os.umask(previous)
    assert oct(dated.stat().st_mode & 0o777) == oct(mode)
    assert oct(undated.stat().st_mode & 0o777) == oct(mode)


@pytest.mark.parametrize(("mode", "pixel", "saved_mode", "saved_pixel"), [
    ("RGBa", (100, 50, 20, 128), "RGBA", (199, 99, 39, 128)),
    ("La", (60, 128), "LA", (119, 128)),
])  # fmt: skip
def test_premultiplied_alpha_is_saved_with_its_transparency(
    tmp_path: Path, mode: str, pixel: tuple[int, ...], saved_mode: str, saved_pixel: tuple[int, ...]
) -> None:
    path = save_image(Image.new(mode, (4, 4), pixel), REQUEST, tmp_path)
    with Image.open(path) as saved:
        assert saved.mode == saved_mode
        assert saved.getpixel((1, 1)) == saved_pixel


def test_an_image_that_cannot_be_encoded_is_kept_with_a_plain_message(tmp_path: Path) -> None:
    whole = save_image(Image.new("RGB", (64, 64), (9, 9, 9)), REQUEST, tmp_path / "a")
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[:-40])  # opens, but its pixels cannot all be read
    with Image.open(cut) as image, pytest.raises(SaveError) as caught:
        save_image(image, REQUEST, tmp_path / "b", now=MOMENT)
    assert caught.value.image is image
    assert str(caught.value) == "Could not save the image: its 64x64 RGB pixels could not be encoded as PNG."
    assert not (tmp_path / "b").exists()
