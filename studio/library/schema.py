"""The gallery index schema as ordered migrations; `PRAGMA user_version` is the version."""

from __future__ import annotations

# MIGRATIONS[n] takes a database from version n to n + 1. Never edit a released one: add another.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,      -- relative to the gallery folder, '/'-separated
        created REAL NOT NULL,          -- seconds since the epoch
        mtime_ns INTEGER NOT NULL,
        file_size INTEGER NOT NULL,
        prompt TEXT NOT NULL DEFAULT '',
        negative_prompt TEXT NOT NULL DEFAULT '',
        seed INTEGER,
        steps INTEGER,
        guidance REAL,
        width INTEGER,
        height INTEGER,
        scheduler TEXT,
        sampler TEXT,
        model TEXT,
        source TEXT,
        favorite INTEGER NOT NULL DEFAULT 0,
        rating INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX images_created ON images (created);
    CREATE INDEX images_favorite_created ON images (favorite, created);
    CREATE VIRTUAL TABLE images_fts USING fts5 (
        prompt, negative_prompt,
        content = 'images', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER images_ai AFTER INSERT ON images BEGIN
        INSERT INTO images_fts (rowid, prompt, negative_prompt)
        VALUES (new.id, new.prompt, new.negative_prompt);
    END;
    CREATE TRIGGER images_ad AFTER DELETE ON images BEGIN
        INSERT INTO images_fts (images_fts, rowid, prompt, negative_prompt)
        VALUES ('delete', old.id, old.prompt, old.negative_prompt);
    END;
    CREATE TRIGGER images_au AFTER UPDATE OF prompt, negative_prompt ON images BEGIN
        INSERT INTO images_fts (images_fts, rowid, prompt, negative_prompt)
        VALUES ('delete', old.id, old.prompt, old.negative_prompt);
        INSERT INTO images_fts (rowid, prompt, negative_prompt)
        VALUES (new.id, new.prompt, new.negative_prompt);
    END;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = (
    "path, created, mtime_ns, file_size, prompt, negative_prompt, seed, steps, guidance, "
    "width, height, scheduler, sampler, model, source, favorite, rating"
)
