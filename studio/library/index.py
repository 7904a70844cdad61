"""The gallery index: a SQLite cache of what the image files say, rebuilt from them at will.

Thread-safe: one connection behind a lock, so the GUI thread can query while a worker adds.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

from studio.config.atomic import remove_stale_temporaries
from studio.library.curation import move_to_trash, set_curation
from studio.library.metadata import ImageMetadata, UnreadableImage, read_metadata
from studio.library.scan import FileStamp, is_temporary, scan_folder
from studio.library.schema import COLUMNS, MIGRATIONS, SCHEMA_VERSION

Progress = Callable[[int, int], None]  # (done, total)
Order = Literal["desc", "asc"]
_SQLITE_HEADER = b"SQLite format 3\0"
_BATCH = 500
KEPT_DAMAGED_COPIES = 3  # moved-aside damaged indexes kept for a person to look at; older ones go
_DAMAGED = ".corrupt-"
_NOT_UTF8 = "Its file name is not valid UTF-8, which the index cannot store; rename the file to see it in the gallery."


class IndexTooNew(RuntimeError):
    """The index was written by a newer Studio; it is left untouched."""


class GalleryRow(NamedTuple):
    """One image as the gallery shows it; everything a view needs without another query.

    `file` is the absolute path as text (cheap for 10,000 rows); `path` makes it a Path.
    `favorite` is 0 or 1.
    """

    file: str
    created: float
    mtime_ns: int
    file_size: int
    prompt: str
    negative_prompt: str
    seed: int | None
    steps: int | None
    guidance: float | None
    width: int | None
    height: int | None
    scheduler: str | None
    sampler: str | None
    model: str | None
    source: str | None
    favorite: int
    rating: int

    @property
    def path(self) -> Path:
        return Path(self.file)


@dataclass
class ScanReport:
    """What a rebuild or reconciliation changed; `skipped` maps a file to why it was refused."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    skipped: dict[Path, str] = field(default_factory=dict)


class OutsideGallery(ValueError):
    """A file that is not inside the gallery folder cannot be indexed."""


class GalleryIndex:
    """Index of the images under `gallery_dir`, stored in `db_path` (None: in memory only).

    A corrupt database is moved aside (`recovered_from`) and rebuilt from the files; a database
    from a newer Studio raises IndexTooNew and is never written. `notes` lists, in words a
    person reads, what happened to the index that they should know (the window and the CLI
    show them).
    """

    def __init__(self, db_path: Path | None, gallery_dir: Path) -> None:
        self.db_path = Path(db_path) if db_path is not None else None
        self.gallery_dir = Path(gallery_dir)
        self.recovered_from: Path | None = None
        self.notes: list[str] = []
        self._lock = threading.RLock()
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError:
            self.recovered_from = self._move_aside()
            self._conn = self._open()
            self.notes.append(
                f"The gallery index was damaged; it was moved aside to {self.recovered_from.name} "
                "and rebuilt from the image files (favorites and ratings are kept in the files)."
            )
            self.rebuild()

    @classmethod
    def in_memory(cls, gallery_dir: Path) -> GalleryIndex:
        """An index that lives only as long as this object: for when the file cannot be used."""
        return cls(None, gallery_dir)

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self.db_path is None:
            target = ":memory:"
        else:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            if self.db_path.exists() and self.db_path.stat().st_size > 0:
                self._check_existing(self.db_path)
            target = str(self.db_path)
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version, SCHEMA_VERSION):
                conn.executescript(f"BEGIN; {MIGRATIONS[number]}; PRAGMA user_version = {number + 1}; COMMIT;")
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    @staticmethod
    def _check_existing(db_path: Path) -> None:
        """Refuse a newer schema before anything writes; raise DatabaseError if corrupt."""
        with open(db_path, "rb") as fh:
            if fh.read(16) != _SQLITE_HEADER:
                raise sqlite3.DatabaseError("file is not a database")
        uri = db_path.resolve().as_uri() + "?mode=ro"
        probe = sqlite3.connect(uri, uri=True)
        try:
            version = probe.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise IndexTooNew(
                    f"The gallery index {db_path} was written by a newer Studio (schema "
                    f"{version}; this one knows up to {SCHEMA_VERSION}). It was left untouched: "
                    "update Studio, or point it at another index."
                )
            if probe.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("the index failed its integrity check")
        finally:
            probe.close()

    def _move_aside(self) -> Path:
        """Move the damaged database (and its WAL) aside under a new name; keep the newest few."""
        assert self.db_path is not None
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.db_path.with_name(f"{self.db_path.name}{_DAMAGED}{stamp}")
        number = 1
        while any(Path(f"{aside}{suffix}").exists() for suffix in ("", "-wal", "-shm")):
            number += 1
            aside = self.db_path.with_name(f"{self.db_path.name}{_DAMAGED}{stamp}-{number}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.db_path}{suffix}")
            if source.exists():
                source.replace(Path(f"{aside}{suffix}"))
        self._forget_old_damaged_copies()
        return aside

    def _forget_old_damaged_copies(self) -> None:
        assert self.db_path is not None
        pattern = f"{self.db_path.name}{_DAMAGED}*"
        copies = [p for p in self.db_path.parent.glob(pattern) if not p.name.endswith(("-wal", "-shm"))]
        copies.sort(key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
        for old in copies[KEPT_DAMAGED_COPIES:]:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{old}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> GalleryIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- queries ---------------------------------------------------------------------------

    def rows(
        self, *, order: Order = "desc", favorites_only: bool = False, search: str | None = None
    ) -> list[GalleryRow]:
        """All matching images at once, newest first by default: a view needs no more queries."""
        sql, params = self._select(f"SELECT {self._row_columns()} FROM images", favorites_only, search)
        sql += f" ORDER BY images.created {'ASC' if order == 'asc' else 'DESC'}, images.id"
        with self._lock:
            return list(map(GalleryRow._make, self._conn.execute(sql, [self._prefix, *params])))

    def count(self, *, favorites_only: bool = False, search: str | None = None) -> int:
        sql, params = self._select("SELECT count(*) FROM images", favorites_only, search)
        with self._lock:
            return int(self._conn.execute(sql, params).fetchone()[0])

    def search(self, text: str) -> list[Path]:
        """Paths whose prompt matches `text` (words, prefixes allowed), newest first."""
        return [row.path for row in self.rows(search=text)]

    def prompts(self, search: str = "", limit: int = 200) -> list[tuple[str, Path]]:
        """Each distinct prompt ever used (matching `search`, as the gallery's search does), newest
        first, with the newest image made from it: the prompt box's history."""
        if not fts_query(search):
            return self._recent_prompts(limit)
        sql, params = self._select("SELECT images.prompt, images.path, max(images.created) FROM images",
                                   False, search)
        sql += (" AND" if " WHERE " in sql else " WHERE") + " images.prompt != ''"
        sql += " GROUP BY images.prompt ORDER BY max(images.created) DESC LIMIT ?"
        with self._lock:
            found = self._conn.execute(sql, [*params, max(0, limit)]).fetchall()
        return [(prompt, self.gallery_dir / key) for prompt, key, _ in found]

    def _recent_prompts(self, limit: int) -> list[tuple[str, Path]]:
        """Newest images first along the `created` index, stopping at `limit` distinct prompts:
        it reads only as many rows as it needs, where GROUP BY would read them all."""
        found: dict[str, Path] = {}
        with self._lock:
            cursor = self._conn.execute(
                "SELECT prompt, path FROM images WHERE prompt != '' ORDER BY created DESC, id")
            while len(found) < limit and (batch := cursor.fetchmany(256)):
                for prompt, key in batch:
                    if prompt not in found and len(found) < limit:
                        found[prompt] = self.gallery_dir / key
            cursor.close()
        return list(found.items())

    def get(self, path: Path) -> GalleryRow | None:
        sql = f"SELECT {self._row_columns()} FROM images WHERE images.path = ?"
        with self._lock:
            found = self._conn.execute(sql, (self._prefix, self._key(path))).fetchone()
        return GalleryRow._make(found) if found else None

    def _select(self, base: str, favorites_only: bool, search: str | None) -> tuple[str, list[object]]:
        where: list[str] = []
        params: list[object] = []
        match = fts_query(search or "")
        if match:
            base += " JOIN images_fts ON images_fts.rowid = images.id"
            where.append("images_fts MATCH ?")
            params.append(match)
        if favorites_only:
            where.append("images.favorite = 1")
        if where:
            base += " WHERE " + " AND ".join(where)
        return base, params

    # -- changes ---------------------------------------------------------------------------

    def add(self, path: Path, meta: ImageMetadata | None = None) -> GalleryRow:
        """Index one file (just saved, or changed); UnreadableImage if it is refused.

        With `meta` (what the caller already knows the file says) the file is not read, only
        its size and time are; its numbers are still checked before they reach the index.
        """
        path = Path(path)
        if is_temporary(path.name):
            raise UnreadableImage(
                f"{path.name} is a temporary file of a save in progress or one that was cut short; "
                "the gallery does not show it."
            )
        key = self._key(path)
        if not _storable(key):
            raise UnreadableImage(_NOT_UTF8)
        stamp = FileStamp.of(path)
        if meta is None:
            meta = read_metadata(path)
        else:
            meta.check_numbers()
        with self._transaction() as conn:
            self._upsert(conn, key, stamp, meta)
        row = self.get(path)
        assert row is not None
        return row

    def remove(self, path: Path) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM images WHERE path = ?", (self._key(path),))

    def delete(self, path: Path) -> None:
        """Send the file to the system trash and forget it."""
        move_to_trash(path)
        self.remove(path)

    def set_favorite(self, path: Path, favorite: bool) -> None:
        """Mark in the file (so it survives a rebuild), then in the index."""
        set_curation(path, favorite=favorite)
        self._update_curation(path, "favorite", int(favorite))

    def set_rating(self, path: Path, rating: int) -> None:
        set_curation(path, rating=rating)
        self._update_curation(path, "rating", rating)

    def _update_curation(self, path: Path, column: str, value: int) -> None:
        stamp = FileStamp.of(Path(path))
        with self._transaction() as conn:
            conn.execute(
                f"UPDATE images SET {column} = ?, mtime_ns = ?, file_size = ? WHERE path = ?",
                (value, stamp.mtime_ns, stamp.size, self._key(path)),
            )

    def reconcile(self, progress: Progress | None = None) -> ScanReport:
        """Bring the index in line with the folder: new, changed and vanished files."""
        report = ScanReport()
        scan = scan_folder(self.gallery_dir)
        for folder in sorted(scan.temporary_dirs):
            remove_stale_temporaries(self.gallery_dir / folder, recursive=False)
        on_disk = scan.images
        with self._lock:
            known = {
                key: (mtime_ns, size)
                for key, mtime_ns, size in self._conn.execute("SELECT path, mtime_ns, file_size FROM images")
            }
        gone = [key for key in known if key not in on_disk]
        todo = [(key, stamp) for key, stamp in on_disk.items() if known.get(key) != (stamp.mtime_ns, stamp.size)]
        with self._transaction() as conn:
            conn.executemany("DELETE FROM images WHERE path = ?", [(key,) for key in gone])
        report.removed = len(gone)
        self._read_into_index(todo, known, report, progress)
        return report

    def rebuild(self, progress: Progress | None = None) -> ScanReport:
        """Forget everything and read every file again."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM images")
            conn.execute("INSERT INTO images_fts (images_fts) VALUES ('rebuild')")
        return self.reconcile(progress)

    def _read_into_index(
        self,
        todo: list[tuple[str, FileStamp]],
        known: dict[str, tuple[int, int]],
        report: ScanReport,
        progress: Progress | None,
    ) -> None:
        total = len(todo)
        if progress:
            progress(0, total)
        for start in range(0, total, _BATCH):
            batch: list[tuple[str, FileStamp, ImageMetadata]] = []
            for key, stamp in todo[start : start + _BATCH]:
                path = self.gallery_dir / key
                try:
                    batch.append((key, stamp, read_metadata(path)))
                except (UnreadableImage, OSError) as exc:
                    report.skipped[path] = str(exc)
            with self._transaction() as conn:
                for key, stamp, meta in batch:
                    try:
                        self._upsert(conn, key, stamp, meta)
                    except UnicodeEncodeError:
                        report.skipped[self.gallery_dir / key] = _NOT_UTF8
                        continue
                    except (sqlite3.Error, OverflowError, ValueError, TypeError):
                        # one file's odd metadata must never hide the others
                        report.skipped[self.gallery_dir / key] = "Its metadata could not be stored in the index."
                        continue
                    if key in known:
                        report.updated += 1
                    else:
                        report.added += 1
            if progress:
                progress(min(start + _BATCH, total), total)

    def _upsert(self, conn: sqlite3.Connection, key: str, stamp: FileStamp, meta: ImageMetadata) -> None:
        created = _sqlite_float(meta.created)
        if created is None:
            created = stamp.mtime_ns / 1e9
        conn.execute(
            f"INSERT INTO images ({COLUMNS}) VALUES ({', '.join('?' * 17)}) "
            "ON CONFLICT (path) DO UPDATE SET created = excluded.created, "
            "mtime_ns = excluded.mtime_ns, file_size = excluded.file_size, "
            "prompt = excluded.prompt, negative_prompt = excluded.negative_prompt, "
            "seed = excluded.seed, steps = excluded.steps, guidance = excluded.guidance, "
            "width = excluded.width, height = excluded.height, scheduler = excluded.scheduler, "
            "sampler = excluded.sampler, model = excluded.model, source = excluded.source, "
            "favorite = excluded.favorite, rating = excluded.rating",
            (
                key, created, stamp.mtime_ns, stamp.size, _text(meta.prompt) or "",
                _text(meta.negative_prompt) or "", _sqlite_int(meta.seed), _sqlite_int(meta.steps),
                _sqlite_float(meta.guidance), _sqlite_int(meta.width), _sqlite_int(meta.height),
                _text(meta.scheduler), _text(meta.sampler), _text(meta.model), _text(meta.source),
                int(meta.favorite is True), _sqlite_int(meta.rating) or 0,
            ),
        )  # fmt: skip

    # -- paths -----------------------------------------------------------------------------

    @property
    def _prefix(self) -> str:
        return str(self.gallery_dir.absolute()) + os.sep

    def _key(self, path: Path) -> str:
        """Stored form of a path: '/'-separated, relative to the gallery folder."""
        try:
            return Path(path).absolute().relative_to(self.gallery_dir.absolute()).as_posix()
        except ValueError:
            raise OutsideGallery(f"{path} is not inside the gallery folder {self.gallery_dir}.") from None

    @staticmethod
    def _row_columns() -> str:
        """The row's columns, the first made absolute by the `?` prefix parameter."""
        names = [name.strip() for name in COLUMNS.split(",")]
        return ", ".join(["? || images.path", *(f"images.{name}" for name in names[1:])])


def fts_query(text: str) -> str:
    """An FTS5 expression for what a person typed: every word, as a prefix, in the prompt."""
    words = re.findall(r"\w+", text)
    if not words:
        return ""
    return "prompt : (" + " ".join(f'"{word}"*' for word in words) + ")"


def _sqlite_int(value: object) -> int | None:
    """A whole number SQLite holds (64-bit); anything else (a 64-bit ComfyUI seed past 2**63) is
    not indexed, though the file keeps it."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
        return value
    return None


def _sqlite_float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _storable(key: str) -> bool:
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
