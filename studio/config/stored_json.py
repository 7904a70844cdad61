"""Reading a JSON file that Studio wrote, where a damaged one never stops the app.

A file that cannot be parsed is moved aside under a dated name (never deleted), and the
caller gets a sentence to tell the person once.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_BYTES = 64 * 1024 * 1024  # far beyond any file Studio writes; a bigger one is not Studio's


@dataclass
class LoadedJson:
    data: Any = None  # the parsed value, or None when there was no usable file
    notes: list[str] = field(default_factory=list)  # what went wrong, in words


def load_json(path: Path, what: str) -> LoadedJson:
    """The JSON in `path` (None when there is no file). `what` names the file in messages,
    e.g. "The settings file". Never raises for bad content."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ValueError(f"it is {size:,} bytes, far more than Studio writes")
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadedJson()
    except ValueError as exc:
        return _aside(path, what, str(exc))
    except OSError as exc:
        return LoadedJson(None, [f"{what} {path} could not be read ({exc.strerror or 'unknown error'}); "
                                 "Studio starts with defaults and leaves the file as it is."])
    try:
        return LoadedJson(json.loads(raw.decode("utf-8")))
    except UnicodeDecodeError:
        return _aside(path, what, "it is not text")
    except json.JSONDecodeError as exc:
        return _aside(path, what, f"it is not valid JSON: {exc.msg} at line {exc.lineno}")
    except ValueError:  # a number of thousands of digits
        return _aside(path, what, "it holds a number far too long")
    except RecursionError:
        return _aside(path, what, "it is nested too deeply")


def move_aside(path: Path, label: str = "unreadable") -> Path:
    """Rename `path` to a dated name beside it; returns the new name (or `path` if it could not move)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 100):
        suffix = "" if n == 1 else f"-{n}"
        aside = path.with_name(f"{path.name}.{label}-{stamp}{suffix}")
        if aside.exists():
            continue
        try:
            os.replace(path, aside)
        except OSError:
            return path
        return aside
    return path


def _aside(path: Path, what: str, why: str) -> LoadedJson:
    aside = move_aside(path)
    kept = f"kept it as {aside.name}" if aside != path else "left it where it is"
    return LoadedJson(None, [f"{what} is damaged ({why}); Studio started with defaults and {kept}."])
