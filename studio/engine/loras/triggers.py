"""Trigger words: the words a LoRA or embedding was trained on, read from its training metadata,
and the ones a person set instead, kept in one JSON file (written atomically)."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from studio.config.atomic import write_atomic
from studio.config.stored_json import load_json

MAX_TRAINING_WORDS = 10  # the most frequent tags; a dataset's long tail says little about the LoRA
MAX_WORDS = 50
MAX_WORD_LENGTH = 200


def training_words(metadata: Mapping[str, str], limit: int = MAX_TRAINING_WORDS) -> tuple[str, ...]:
    """The model-spec trigger phrase, then kohya's `ss_tag_frequency` tags (a JSON text of
    {dataset: {tag: count}}) by how often they were used over all datasets, the most first;
    ties keep the order the trainer wrote. Unreadable metadata gives no words."""
    words: list[str] = []
    for phrase in metadata.get("modelspec.trigger_phrase", "").split(","):
        _add(words, phrase)
    counts: dict[str, int] = {}
    for tags in _datasets(metadata.get("ss_tag_frequency", "")):
        for tag, count in tags.items():
            word = tag.strip()
            if word and isinstance(count, int | float) and not isinstance(count, bool):
                counts[word] = counts.get(word, 0) + int(count)
    for word, _count in sorted(counts.items(), key=lambda item: -item[1]):  # sorted() is stable
        if len(words) >= limit:
            break
        _add(words, word)
    return tuple(words[:limit])


def clean_words(words: Sequence[str]) -> tuple[str, ...]:
    """Words as a person typed them: trimmed, without blanks and repeats, bounded in number and length."""
    cleaned: list[str] = []
    for word in words[: MAX_WORDS * 4]:
        _add(cleaned, str(word))
    return tuple(cleaned[:MAX_WORDS])


def _add(words: list[str], word: str) -> None:
    word = " ".join(word.split())[:MAX_WORD_LENGTH]
    if word and word.lower() not in (w.lower() for w in words):
        words.append(word)


def _datasets(text: str) -> list[dict[str, object]]:
    if not text:
        return []
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return []
    if not isinstance(data, dict):
        return []
    return [tags for tags in data.values() if isinstance(tags, dict)]


class TriggerWordStore:
    """The trigger words people set, by file path; they replace the training words of that
    file. Without a `store` they last as long as the object. A store that cannot be read is
    moved aside, never overwritten, and `notes` says so."""

    def __init__(self, store: Path | None = None) -> None:
        self._store = store
        self._words: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self.notes: list[str] = []
        if store is not None:
            loaded = load_json(store, "The trigger words file")
            self.notes = loaded.notes
            self._words = _words_from(loaded.data)

    def get(self, path: Path) -> tuple[str, ...] | None:
        """The words set for `path`, or None when none were (the training words apply)."""
        with self._lock:
            return self._words.get(_key(path))

    def set(self, path: Path, words: Sequence[str]) -> tuple[str, ...]:
        """Set the words of `path` (an empty list means none) and save; returns them cleaned.
        Raises SaveError when the file cannot be written."""
        cleaned = clean_words(words)
        with self._lock:
            changed = dict(self._words)
            changed[_key(path)] = cleaned
            self._save(changed)
        return cleaned

    def clear(self, path: Path) -> None:
        """Forget the words set for `path`: its training words apply again."""
        with self._lock:
            changed = dict(self._words)
            if changed.pop(_key(path), None) is not None:
                self._save(changed)

    def _save(self, words: dict[str, tuple[str, ...]]) -> None:
        """Write `words`, then hold them: words that could not be saved are not shown as set."""
        if self._store is not None:
            data = {"version": 1, "words": {key: list(ws) for key, ws in sorted(words.items())}}
            write_atomic(self._store, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        self._words = words


def _key(path: Path) -> str:
    return str(path.resolve())


def _words_from(data: object) -> dict[str, tuple[str, ...]]:
    words = data.get("words") if isinstance(data, dict) else None
    if not isinstance(words, dict):
        return {}
    return {
        str(key): clean_words([w for w in value if isinstance(w, str)])
        for key, value in words.items()
        if isinstance(value, list)
    }
