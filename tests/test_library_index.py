"""The gallery index: a cache of the files that survives corruption, new versions and deletions."""

from __future__ import annotations

import os
import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from studio.engine.run.request import GenerationRequest
from studio.library.gallery import Gallery
from studio.library.index import KEPT_DAMAGED_COPIES, GalleryIndex, IndexTooNew, fts_query
from studio.library.metadata import ImageMetadata, UnreadableImage, read_metadata
from studio.library.schema import SCHEMA_VERSION
from studio.library.store import save_image
from tests import library_samples as samples

PROMPTS = ("a red fox in the snow", "blue whale, deep ocean", "red café au lait", "a fox den")


def _gallery(folder: Path) -> list[Path]:
    start = datetime(2024, 5, 1, 12, 0, 0)
    return [
        save_image(
            Image.new("RGB", (16, 16), (i * 40, 80, 120)),
            GenerationRequest(prompt, seed=i),
            folder,
            now=start + timedelta(minutes=i),
        )
        for i, prompt in enumerate(PROMPTS)
    ]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    gallery = tmp_path / "gallery"
    _gallery(gallery)
    return gallery


def test_rebuild_rows_and_search(folder: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    with GalleryIndex(tmp_path / "index.sqlite3", folder) as index:
        report = index.rebuild(lambda done, total: calls.append((done, total)))
        assert report.added == 4 and not report.skipped
        assert calls[0] == (0, 4) and calls[-1] == (4, 4)
        rows = index.rows()
        assert [r.prompt for r in rows] == list(reversed(PROMPTS))
        assert [r.prompt for r in index.rows(order="asc")] == list(PROMPTS)
        assert rows[0].path.exists() and rows[0].seed == 3 and rows[0].width == 512
        assert [p.name for p in index.search("fox")] == [rows[0].path.name, rows[3].path.name]
        assert len(index.search("re")) == 2  # prefix: red, red
        assert len(index.search("cafe")) == 1  # diacritics folded
        assert index.search("fox snow") == [rows[3].path]
        assert index.search('whale "oce') == [rows[2].path]  # typed words, not FTS syntax
        assert index.count(search="ocean") == 1 and index.count() == 4
        assert index.search("") == [r.path for r in rows]


def test_fts_query_escapes_what_people_type() -> None:
    assert fts_query('cat "NEAR(x') == 'prompt : ("cat"* "NEAR"* "x"*)'
    assert fts_query("  ,, ") == ""


def test_add_after_save_and_remove(folder: Path, tmp_path: Path) -> None:
    with Gallery.for_folder(folder) as gallery:
        gallery.index.reconcile()
        row = gallery.save(Image.new("RGB", (8, 8)), GenerationRequest("a green owl", seed=9))
        assert row.prompt == "a green owl" and row.path.parent.parent == folder
        assert gallery.index.search("owl") == [row.path]
        gallery.index.remove(row.path)
        assert gallery.index.search("owl") == [] and row.path.exists()
    assert (folder / ".studio" / "gallery.sqlite3").exists()


def test_reconcile_finds_added_removed_and_changed_files(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    with GalleryIndex(db, folder) as index:
        index.reconcile()
        first = index.rows()
    # Outside the app: one copied in, one moved away, one rewritten.
    shutil.copy(samples.INTEROP / "a1111_parameters.png", folder / "duck.png")
    moved = first[0].path
    moved.rename(tmp_path / moved.name)
    changed = first[1].path
    samples.png_with_text(changed, {"parameters": "a purple bat\nSteps: 5, Sampler: Euler, Seed: 1"})
    with GalleryIndex(db, folder) as index:
        report = index.reconcile()
        assert (report.added, report.updated, report.removed) == (1, 1, 1)
        assert index.count() == 4
        assert index.search("duck") == [folder / "duck.png"]
        assert index.search("bat") == [changed]
        assert index.search(first[0].prompt) == []
        again = index.reconcile()
        assert (again.added, again.updated, again.removed) == (0, 0, 0)


def test_unreadable_files_are_skipped_with_a_reason(folder: Path, tmp_path: Path) -> None:
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnonsense")
    with GalleryIndex(tmp_path / "i.sqlite3", folder) as index:
        report = index.rebuild()
        assert report.added == 4
        assert "truncated" in report.skipped[folder / "broken.png"]


def test_favorites_and_ratings_survive_a_deleted_index(folder: Path, tmp_path: Path) -> None:
    shutil.copy(samples.INTEROP / "invokeai_metadata.png", folder / "invoke.png")
    db = tmp_path / "index.sqlite3"
    with GalleryIndex(db, folder) as index:
        index.reconcile()
        ours = index.rows()[1].path
        index.set_favorite(ours, True)
        index.set_rating(ours, 4)
        index.set_favorite(folder / "invoke.png", True)
        assert {r.path for r in index.rows(favorites_only=True)} == {ours, folder / "invoke.png"}
        assert index.count(favorites_only=True, search="whale") == 0
    for leftover in tmp_path.glob("index.sqlite3*"):
        leftover.unlink()
    with GalleryIndex(db, folder) as index:
        index.reconcile()
        favorites = {r.path: r for r in index.rows(favorites_only=True)}
        assert set(favorites) == {ours, folder / "invoke.png"}
        assert favorites[ours].rating == 4
    # The other tool's metadata is untouched by our chunk.
    meta = read_metadata(folder / "invoke.png")
    assert meta.source == "InvokeAI" and meta.favorite and meta.problems == []


def test_newer_database_is_refused_and_left_untouched(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute("CREATE TABLE future (x)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with pytest.raises(IndexTooNew, match="newer Studio"):
        GalleryIndex(db, folder)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery", "index.sqlite3"]


@pytest.mark.parametrize("garbage", [b"", b"this is not a database at all" * 100])
def test_corrupt_index_is_moved_aside_and_rebuilt(folder: Path, tmp_path: Path, garbage: bytes) -> None:
    db = tmp_path / "index.sqlite3"
    with GalleryIndex(db, folder) as index:
        index.reconcile()
        index.set_favorite(index.rows()[0].path, True)
    if garbage:
        db.write_bytes(garbage)
    else:  # damage the pages of a real database
        data = bytearray(db.read_bytes())
        data[100:] = b"\xff" * (len(data) - 100)
        db.write_bytes(bytes(data))
        for extra in tmp_path.glob("index.sqlite3-*"):
            extra.unlink()
    with GalleryIndex(db, folder) as index:
        assert index.recovered_from is not None and index.recovered_from.exists()
        assert index.count() == 4
        assert index.count(favorites_only=True) == 1


def test_migrates_from_an_empty_database(tmp_path: Path, folder: Path) -> None:
    db = tmp_path / "index.sqlite3"
    sqlite3.connect(db).close()
    with GalleryIndex(db, folder) as index:
        index.reconcile()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_delete_sends_to_the_trash(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    data_home = home / ".local" / "share"
    monkeypatch.setenv("HOME", str(home))
    # send2trash reads XDG_DATA_HOME when it is imported: point it at the test's home too.
    from send2trash import plat_other

    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", os.fsencode(data_home))
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.fsencode(data_home / "Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", str(data_home / "Trash"))
    with GalleryIndex(tmp_path / "index.sqlite3", folder) as index:
        index.reconcile()
        victim = index.rows()[0].path
        content = victim.read_bytes()
        index.delete(victim)
        assert not victim.exists()
        assert index.count() == 3 and index.get(victim) is None
    trashed = list((home / ".local" / "share" / "Trash" / "files").iterdir())
    assert [p.read_bytes() for p in trashed] == [content]
    assert os.path.exists(home / ".local" / "share" / "Trash" / "info")


# -- the index never loses or hides anything ----------------------------------------------------


def _damage(db: Path) -> None:
    db.write_bytes(b"this is not a database at all" * 100)
    for extra in db.parent.glob(f"{db.name}-*"):
        extra.unlink()


def test_damaged_index_is_reported_and_old_copies_do_not_pile_up(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    with GalleryIndex(db, folder) as index:
        index.reconcile()
        assert index.notes == []
    for _ in range(6):
        _damage(db)
        with GalleryIndex(db, folder) as index:
            assert len(index.notes) == 1 and "damaged" in index.notes[0]
            assert index.recovered_from is not None and index.recovered_from.name in index.notes[0]
            assert {p.name for p in index.search("")} == {p.name for p in folder.rglob("*.png")}
            assert all(index.search(prompt.split()[-1]) for prompt in PROMPTS)
    copies = sorted(p.name for p in tmp_path.glob("index.sqlite3.corrupt-*"))
    assert len(copies) == KEPT_DAMAGED_COPIES, copies
    assert index.recovered_from.name in copies  # the newest is among those kept


def test_newer_index_is_left_alone_and_the_gallery_still_finds_everything(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.execute("CREATE TABLE future (x)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with Gallery(folder, db, tmp_path / "thumbs") as gallery:
        assert gallery.index_is_temporary
        assert len(gallery.notes) == 1 and "newer Studio" in gallery.notes[0]
        gallery.index.reconcile()
        assert len(gallery.index.search("")) == len(PROMPTS)
        assert all(gallery.index.search(prompt.split()[-1]) for prompt in PROMPTS)
        row = gallery.save(Image.new("RGB", (8, 8)), GenerationRequest("a green owl", seed=9))
        assert gallery.index.search("owl") == [row.path]
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gallery", "index.sqlite3"]


def test_deleted_index_is_rebuilt_from_the_files(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.sqlite3"
    with Gallery(folder, db, tmp_path / "thumbs") as gallery:
        gallery.index.reconcile()
        gallery.index.set_favorite(gallery.index.rows()[0].path, True)
        for file in tmp_path.glob("index.sqlite3*"):  # deleted while open
            file.unlink()
        owl = gallery.save(Image.new("RGB", (8, 8)), GenerationRequest("a green owl", seed=9))
    with Gallery(folder, db, tmp_path / "thumbs") as gallery:
        assert gallery.notes == []
        gallery.index.reconcile()
        assert len(gallery.index.search("")) == len(PROMPTS) + 1
        assert gallery.index.search("owl") == [owl.path]
        assert gallery.index.count(favorites_only=True) == 1


def test_gallery_add_with_metadata_does_not_read_the_file(folder: Path, tmp_path: Path) -> None:
    path = folder / "just-written.png"
    path.write_bytes(b"not a PNG at all: reading it would refuse it")
    meta = ImageMetadata(source="Studio", prompt="a heron at dusk", seed=4, steps=12, rating=3)
    with Gallery(folder, tmp_path / "index.sqlite3", tmp_path / "thumbs") as gallery:
        row = gallery.add(path, meta)
        assert (row.prompt, row.seed, row.steps, row.rating) == ("a heron at dusk", 4, 12, 3)
        assert row.file_size == path.stat().st_size
        assert gallery.index.search("heron") == [path]
        with pytest.raises(UnreadableImage):
            gallery.add(path)  # without the metadata it is read, and refused
