"""Pillow's process-wide settings, owned here and set once when Studio starts.

Pillow keeps its limits in module globals (`Image.MAX_IMAGE_PIXELS`,
`ImageFile.LOAD_TRUNCATED_IMAGES`) and reports a large image with a warning. Changing those per
call races between threads (one reader's "refuse truncated files" is another's "pad them out"),
and `warnings.catch_warnings()` swaps the whole process's filter list, so it is not thread-safe
either. Studio therefore sets them once, with `configure_pillow()`, before any thread opens an
image, and its readers never touch them again: they open with `open_image`, which checks
Studio's own pixel budget from the header, whatever the process-wide settings are.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageFile

from studio.library.pngchunks import MAX_PIXELS, UnreadableImage


def configure_pillow() -> None:
    """Studio's Pillow policy, for the whole process; idempotent. Call at start (app and CLI).

    - Pillow warns above `MAX_PIXELS` and refuses above twice that: the same budget as
      Studio's own readers, so images Studio accepts are never reported as bombs.
    - The warning is an error: an image with more pixels than Studio opens is refused wherever
      it is opened, not decoded with a line in a log.
    - A truncated file is refused, never padded out with grey, so a damaged file is noticed.
    """
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # filterwarnings replaces an identical filter rather than adding a second one
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


def open_image(path: Path, formats: list[str] | tuple[str, ...] | None = None) -> Image.Image:
    """Open an image lazily (only its header is read) within Studio's pixel budget.

    UnreadableImage, naming the file, when it has more pixels than Studio opens; any other error
    from Pillow is raised as it is, for the caller to put into words.
    """
    name = Path(path).name
    try:
        image = Image.open(path, formats=formats)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UnreadableImage(f"{name} has more pixels than Studio opens.") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        image.close()
        raise UnreadableImage(
            f"{name} is {width}x{height} pixels, more than Studio opens ({MAX_PIXELS:,} pixels at most)."
        )
    return image
