"""Typed settings: round trip, migrations, damaged and newer files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from studio.config.settings import (
    SCHEMA_VERSION,
    LastParameters,
    Settings,
    load_settings,
    migrate,
    save_settings,
)


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path / "settings.json")
    assert loaded.settings == Settings()
    assert loaded.notes == []


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "settings.json"
    settings = Settings()
    settings.window.geometry = "AdnQywADAAA="
    settings.last = LastParameters(
        prompt="a red circle, «unicode» ✓",
        negative_prompt="blurry",
        seed=1234,
        random_seed=False,
        steps=12,
        guidance=4.5,
        width=64,
        height=96,
        scheduler="DDIM",
        model="/models/mine",
        batch=3,
    )
    settings.preview.every = 2
    settings.gallery_dir = str(tmp_path / "pictures")
    save_settings(settings, path)

    loaded = load_settings(path)
    assert loaded.notes == []
    assert loaded.settings == settings
    # the write left no temporary file behind
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]


def test_version_1_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"schema_version": 1, "geometry": "Z2VvbQ==", "preview_every": 3,
                    "last": {"prompt": "old prompt", "steps": 30}}),
        encoding="utf-8",
    )
    loaded = load_settings(path)
    assert loaded.notes == []
    assert loaded.settings.schema_version == SCHEMA_VERSION
    assert loaded.settings.window.geometry == "Z2VvbQ=="
    assert loaded.settings.preview.every == 3
    assert loaded.settings.last.prompt == "old prompt"
    assert loaded.settings.last.steps == 30


def test_migrations_run_in_order_from_the_file_version() -> None:
    calls: list[str] = []

    def first(data: dict[str, object]) -> dict[str, object]:
        calls.append("first")
        return {**data, "a": 1}

    def second(data: dict[str, object]) -> dict[str, object]:
        calls.append("second")
        return {**data, "b": data.get("a", 0)}

    assert migrate({"schema_version": 1}, (first, second)) == {"schema_version": 3, "a": 1, "b": 1}
    assert calls == ["first", "second"]
    calls.clear()
    assert migrate({"schema_version": 2, "a": 5}, (first, second))["b"] == 5
    assert calls == ["second"]


def test_damaged_file_is_moved_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{ not json", encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.settings == Settings()
    assert len(loaded.notes) == 1 and "damaged" in loaded.notes[0]
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("settings.json.unreadable")]
    assert len(kept) == 1
    assert kept[0].read_text(encoding="utf-8") == "{ not json"


def test_wrong_kinds_of_values_are_ignored_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(
        json.dumps({"schema_version": SCHEMA_VERSION,
                    "last": {"prompt": 42, "steps": "many", "seed": 7, "random_seed": False},
                    "window": "nope"}),
        encoding="utf-8",
    )
    loaded = load_settings(path)
    assert loaded.settings.last.prompt == ""
    assert loaded.settings.last.steps is None
    assert loaded.settings.last.seed == 7
    assert loaded.settings.last.random_seed is False
    assert len(loaded.notes) == 3


def test_newer_file_is_read_and_copied_aside(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    original = json.dumps({"schema_version": SCHEMA_VERSION + 5, "last": {"prompt": "future"},
                           "something_new": True})
    path.write_text(original, encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.settings.last.prompt == "future"
    assert any("newer Studio" in note for note in loaded.notes)
    backup = tmp_path / f"settings.json.v{SCHEMA_VERSION + 5}.bak"
    assert backup.read_text(encoding="utf-8") == original


def test_where_runs_go_is_kept_and_a_version_3_file_runs_locally(tmp_path: Path) -> None:
    from studio.config.settings import EngineSettings

    path = tmp_path / "settings.json"
    settings = Settings(engine=EngineSettings("remote", "http://gpu-box:8123", "s3cret"))
    save_settings(settings, path)
    assert load_settings(path).settings.engine == EngineSettings("remote", "http://gpu-box:8123", "s3cret")
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]  # written atomically, nothing left over
    if os.name == "posix":  # the token is for the owner's eyes only
        assert path.stat().st_mode & 0o077 == 0

    path.write_text(json.dumps({"schema_version": 3, "last": {"prompt": "old"}}), encoding="utf-8")
    old = load_settings(path).settings
    assert old.engine == EngineSettings() and not old.engine.remote and old.last.prompt == "old"

    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION, "engine": {"kind": "cloud"}}), encoding="utf-8")
    loaded = load_settings(path)
    assert loaded.settings.engine.kind == "local"
    assert loaded.notes == ["Ignored engine.kind = 'cloud': expected 'local' or 'remote'."]
