"""`studio info FILE...`: what the metadata of each image says, whichever tool wrote it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.library.metadata import ImageMetadata, UnreadableImage, read_metadata
from studio.library.metadata.display import json_safe, path_text, terminal_text

_FIELDS = (
    ("Source", "source"),
    ("Prompt", "prompt"),
    ("Negative prompt", "negative_prompt"),
    ("Seed", "seed"),
    ("Steps", "steps"),
    ("Guidance", "guidance"),
    ("Size", "size"),
    ("Sampler", "sampler"),
    ("Model", "model"),
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("info", help="show the generation settings stored in image files")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="PNG, JPEG or WebP images")
    p.add_argument("--json", action="store_true", help="print one JSON list instead of text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every file was read, 1 when any was refused.

    JSON keeps text as the file has it (escaped by JSON itself); text output escapes control
    characters, so a prompt cannot move the cursor or clear the terminal.
    """
    results: list[dict[str, Any]] = []
    failed = False
    lookups = _Lookups()
    for path in args.files:
        try:
            meta = read_metadata(path)
        except (UnreadableImage, OSError) as exc:
            failed = True
            message = str(exc) if isinstance(exc, UnreadableImage) else _os_error(exc)
            results.append({"path": path_text(path), "error": message})
            if not args.json:
                print(terminal_text(f"{path_text(path)}: could not be read: {message}"), file=sys.stderr)
            continue
        missing = lookups.missing(meta)
        results.append({"path": path_text(path), **meta.to_dict(), "missing": missing})
        if not args.json:
            print(_as_text(path, meta, missing))
    if args.json:
        print(json.dumps(json_safe(results), indent=2, ensure_ascii=False, allow_nan=False))
    return 1 if failed else 0


def _os_error(exc: OSError) -> str:
    return f"Could not open the file: {exc.strerror or 'the system refused'}."


class _Lookups:
    """The LoRA library (the window's folders), opened only for a file that names a LoRA or
    embedding."""

    def __init__(self) -> None:
        self._finder: Any = None

    def missing(self, meta: ImageMetadata) -> list[str]:
        from studio.engine.loras.missing import missing_addons, recorded_addons

        addons = recorded_addons(meta.request) if meta.request is not None else []
        if not addons:
            return []
        if self._finder is None:
            from studio.commands.generate import addon_finder
            from studio.config.paths import StudioPaths

            self._finder = addon_finder(StudioPaths.default(), "studio info")
        return missing_addons(addons, self._finder)


def _as_text(path: Path, meta: ImageMetadata, missing: Sequence[str] = ()) -> str:
    lines = [terminal_text(path_text(path))]
    for label, name in _FIELDS:
        value = getattr(meta, name)
        if value is None or value == "":
            continue
        if name == "sampler" and meta.scheduler and meta.scheduler != value:
            value = f"{value} (Studio: {meta.scheduler})"
        if isinstance(value, float):
            value = f"{value:g}"
        text = terminal_text(str(value)).replace("\n", "\n    ")
        lines.append(f"  {label}: {text}")
    if meta.favorite:
        lines.append("  Favorite: yes")
    for addon in meta.request.addons if meta.request is not None else ():
        word = "LoRA" if addon.kind == "lora" else "Embedding"
        weight = f", weight {addon.weight:g}" if addon.kind == "lora" else ""
        hashed = f"hash {addon.short_hash}" if addon.short_hash else "no hash"
        lines.append(f"  {word}: {terminal_text(addon.name)} ({hashed}{weight})")
    for message in missing:
        lines.append(f"  Missing: {terminal_text(message)}")
    for problem in meta.problems:
        lines.append(f"  Problem: {terminal_text(problem)}")
    return "\n".join(lines)
