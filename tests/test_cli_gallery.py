"""`studio gallery search` and `studio gallery rebuild` on a folder."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from studio.cli import main
from studio.engine.run.request import GenerationRequest
from studio.library.schema import SCHEMA_VERSION
from studio.library.store import save_image
from tests import library_samples as samples


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    gallery = tmp_path / "gallery"
    for i, prompt in enumerate(("a stone bridge", "a wooden bridge at dawn", "a lantern")):
        save_image(Image.new("RGB", (8, 8)), GenerationRequest(prompt, seed=i), gallery)
    shutil.copy(samples.INTEROP / "a1111_parameters.png", gallery / "duck.png")
    return gallery


def test_rebuild_then_search(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "broken.png").write_bytes(b"junk")
    assert main(["gallery", "rebuild", "--gallery", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "Indexed 5 of 5 images" in err
    assert "4 images in the index, 1 skipped." in err and "broken.png" in err
    assert (folder / ".studio" / "gallery.sqlite3").exists()
    assert main(["gallery", "search", "bridge", "--gallery", str(folder)]) == 0
    found = capsys.readouterr().out.splitlines()
    assert len(found) == 2 and all("bridge" in line for line in found)
    assert main(["gallery", "search", "duck", "--gallery", str(folder)]) == 0
    assert capsys.readouterr().out == f"{folder / 'duck.png'}\n"


def test_search_sees_files_added_since(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gallery", "rebuild", "--gallery", str(folder)]) == 0
    save_image(Image.new("RGB", (8, 8)), GenerationRequest("a copper kettle", seed=5), folder)
    capsys.readouterr()
    assert main(["gallery", "search", "kettle", "--gallery", str(folder)]) == 0
    assert "copper-kettle" in capsys.readouterr().out


def test_default_gallery_and_newer_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    save_image(Image.new("RGB", (8, 8)), GenerationRequest("a paper crane"), tmp_path / "home" / "gallery")
    assert main(["gallery", "search", "crane"]) == 0
    assert "paper-crane" in capsys.readouterr().out
    index = tmp_path / "home" / "data" / "gallery.sqlite3"
    conn = sqlite3.connect(index)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    before = index.read_bytes()
    assert main(["gallery", "rebuild"]) == 1
    err = capsys.readouterr().err
    assert "newer Studio" in err and "the index was not rebuilt" in err
    # searching still works, from the files, and says why the index is not used
    assert main(["gallery", "search", "crane"]) == 0
    captured = capsys.readouterr()
    assert "paper-crane" in captured.out
    assert captured.err.startswith("studio gallery: The gallery index ") and "newer Studio" in captured.err
    assert len(captured.err.splitlines()) == 1
    assert index.read_bytes() == before


def test_a_damaged_index_is_reported_on_stderr(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gallery", "rebuild", "--gallery", str(folder)]) == 0
    db = folder / ".studio" / "gallery.sqlite3"
    db.write_bytes(b"garbage" * 100)
    for extra in db.parent.glob("gallery.sqlite3-*"):
        extra.unlink()
    capsys.readouterr()
    assert main(["gallery", "search", "bridge", "--gallery", str(folder)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    (note,) = captured.err.splitlines()
    assert note.startswith("studio gallery: The gallery index was damaged; it was moved aside to ")
    assert "gallery.sqlite3.corrupt-" in note and note.endswith("(favorites and ratings are kept in the files).")
    assert main(["gallery", "search", "bridge", "--gallery", str(folder)]) == 0
    assert capsys.readouterr().err == ""  # said once, when it happened


def test_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gallery", "search", "x", "--gallery", str(tmp_path / "nope")]) == 1
    assert "is not a folder" in capsys.readouterr().err
