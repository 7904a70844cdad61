"""`studio loras [--search TEXT] [--kind KIND] [--json]`: the LoRAs and embeddings Studio finds, with
family, trigger words, the short hash AUTOMATIC1111 writes, size, and why a file cannot be used."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from studio.library.metadata.display import json_safe, path_text, terminal_text

if TYPE_CHECKING:
    from studio.engine.loras.library import AddOn


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("loras", help="list the LoRAs and embeddings in the library")
    p.add_argument("--search", metavar="TEXT", default="",
                   help="only those whose name, category or trigger words hold TEXT")
    p.add_argument("--kind", choices=("lora", "embedding"), help="only LoRAs or only embeddings")
    p.add_argument("--json", action="store_true", help="print one JSON list instead of text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the library was listed, even if some files in it cannot be used."""
    from studio.config.paths import StudioPaths
    from studio.config.settings import load_settings
    from studio.engine.loras.library import AddOnLibrary, search_addons

    paths = StudioPaths.default()
    loaded = load_settings(paths.settings_file)
    library = AddOnLibrary.for_studio(paths, loaded.settings)
    addons = search_addons(library.scan(), args.search, args.kind)
    for note in library.notes:
        print(terminal_text(f"studio loras: {note}"), file=sys.stderr)
    if args.json:
        print(json.dumps(json_safe([_as_dict(a) for a in addons]), indent=2, ensure_ascii=False, allow_nan=False))
        return 0
    if not addons:
        where = ", ".join(path_text(folder.path) for folder in library.folders)
        what = "matches the search" if args.search or args.kind else "was found"
        print(terminal_text(f"No LoRA or embedding {what}. Studio looks in: {where}."), file=sys.stderr)
        return 0
    for addon in addons:
        print(_as_text(addon))
    return 0


def _as_dict(addon: AddOn) -> dict[str, Any]:
    return {
        "name": addon.name,
        "kind": addon.kind,
        "category": addon.category,
        "reference": addon.reference,
        "family": addon.family,
        "trigger_words": list(addon.trigger_words),
        "training_words": list(addon.training_words),
        "short_hash": addon.short_hash,
        "sha256": addon.sha256,
        "size": addon.size,
        "path": path_text(addon.path),
        "preview": path_text(addon.preview) if addon.preview else None,
        "needs_consent": addon.needs_consent,
        "alias": addon.alias,
        "problem": addon.problem,
    }


def _as_text(addon: AddOn) -> str:
    hash_text = addon.short_hash or "-"
    lines = [terminal_text(f"{addon.reference}  ({addon.kind}, {addon.family}, {_size(addon.size)}, hash {hash_text})")]
    if addon.trigger_words:
        lines.append(terminal_text(f"  Trigger words: {', '.join(addon.trigger_words)}"))
    if addon.alias and addon.alias != addon.name:
        lines.append(terminal_text(f"  Trained as: {addon.alias}"))
    if addon.preview:
        lines.append(terminal_text(f"  Preview: {path_text(addon.preview)}"))
    if addon.needs_consent:
        lines.append("  Needs consent: a pickle file; Studio opens it only once you allow it (prefer .safetensors).")
    if addon.problem:
        lines.append(terminal_text(f"  Problem: {addon.problem}"))
    return "\n".join(lines)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
