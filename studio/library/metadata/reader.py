"""Pick the dialect a file speaks and read it: our own chunk first, then other tools'."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from studio.library.metadata.a1111 import parse_infotext
from studio.library.metadata.comfyui import parse_prompt_graph, parse_workflow
from studio.library.metadata.container import FileText, read_file_text
from studio.library.metadata.fooocus import parse_fooocus
from studio.library.metadata.invokeai import parse_dream, parse_invokeai, parse_sd_metadata
from studio.library.metadata.model import ImageMetadata
from studio.library.metadata.novelai import parse_novelai
from studio.library.metadata.numbers import load_json
from studio.library.metadata.studio_chunk import STUDIO_KEY, parse_studio

log = logging.getLogger(__name__)
# One metadata entry: a ComfyUI workflow with hundreds of nodes is well under this.
MAX_METADATA_CHARS = 4 * 1024 * 1024


def read_texts(path: Path) -> FileText:
    """The raw text entries of a file (for showing or copying them as they are)."""
    return read_file_text(path)


def read_metadata(path: Path) -> ImageMetadata:
    """What the file says made it. UnreadableImage if the file itself is refused;
    metadata that cannot be read gives a partial result with `problems`, never an exception."""
    file = read_file_text(Path(path))
    meta = metadata_from_texts(file.texts)
    meta.problems[:0] = file.problems
    if meta.width is None or meta.height is None:
        meta.width, meta.height = file.width, file.height
    meta.check_numbers()
    return meta


def metadata_from_texts(texts: dict[str, str]) -> ImageMetadata:
    """Try each dialect whose chunk is present, best first; the first that finds a prompt wins."""
    notes: list[str] = []
    fallback: ImageMetadata | None = None
    texts = _within_limits(texts, notes)
    for key, parse in _dialects(texts):
        try:
            meta = parse()
        except Exception:  # a parser bug must not make a file unreadable
            log.warning("The %r metadata could not be parsed", key, exc_info=True)
            notes.append(f"The {key!r} metadata is in a form Studio could not read.")
            continue
        meta.check_numbers()
        if meta.prompt is not None:
            meta.problems[:0] = notes
            _keep_studio_extras(meta, texts)
            return meta
        notes.extend(meta.problems)
        fallback = fallback or meta
    result = fallback or ImageMetadata()
    if not texts or fallback is None:
        notes.append("The file has no generation metadata Studio recognises.")
    result.problems = notes
    return result


def _within_limits(texts: dict[str, str], notes: list[str]) -> dict[str, str]:
    """The entries short enough to parse; longer ones are left out, with a note."""
    kept: dict[str, str] = {}
    for key, text in texts.items():
        if len(text) > MAX_METADATA_CHARS:
            notes.append(
                f"The {key!r} metadata is {len(text):,} characters long, more than Studio reads "
                f"({MAX_METADATA_CHARS:,}); it was not read."
            )
        else:
            kept[key] = text
    return kept


def _dialects(texts: dict[str, str]) -> list[tuple[str, Callable[[], ImageMetadata]]]:
    found: list[tuple[str, Callable[[], ImageMetadata]]] = []
    if STUDIO_KEY in texts:
        found.append((STUDIO_KEY, lambda: parse_studio(texts[STUDIO_KEY])))
    if "invokeai_metadata" in texts:
        found.append(("invokeai_metadata", lambda: parse_invokeai(_json(texts["invokeai_metadata"]))))
    if "sd-metadata" in texts:
        found.append(("sd-metadata", lambda: parse_sd_metadata(_json(texts["sd-metadata"]))))
    if "Dream" in texts:
        found.append(("Dream", lambda: parse_dream(texts["Dream"])))
    if texts.get("Software", "").startswith("NovelAI") or ("Comment" in texts and "Description" in texts):
        found.append(("Comment", lambda: parse_novelai(texts, _json(texts.get("Comment", "")))))
    parameters = texts.get("parameters")
    if parameters is not None:
        if parameters.lstrip().startswith("{"):
            found.append(("parameters", lambda: parse_fooocus(_json(parameters))))
        else:
            source = "Fooocus" if "fooocus_scheme" in texts else "AUTOMATIC1111"
            found.append(("parameters", lambda: parse_infotext(parameters, source)))
    if "prompt" in texts:
        found.append(("prompt", lambda: parse_prompt_graph(_json(texts["prompt"]))))
    if "workflow" in texts:
        found.append(("workflow", lambda: parse_workflow(_json(texts["workflow"]))))
    return found


def _keep_studio_extras(meta: ImageMetadata, texts: dict[str, str]) -> None:
    """Favorites and ratings live in our chunk even for images other tools made."""
    if meta.source == "Studio" or STUDIO_KEY not in texts:
        return
    ours = parse_studio(texts[STUDIO_KEY])
    meta.favorite, meta.rating = ours.favorite, ours.rating
    meta.created = meta.created or ours.created


def _json(text: str) -> object:
    return load_json(text)
