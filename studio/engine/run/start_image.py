"""The pictures a run starts from: the start image fitted to the chosen size, its mask, the
outpainted canvas, and the paste-back that keeps every pixel outside the mask.

Torch-free: PIL and numpy only. Every problem with a file is an InvalidRequest naming the field,
so the window can point at the control and the command line can exit with code 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from studio.engine.run.request import FieldProblem, GenerationRequest, InvalidRequest

MAX_PIXELS = 16384 * 16384  # the same budget as the gallery's readers
_LABEL = {"start_image": "start image", "mask": "mask"}


@dataclass(frozen=True)
class Prepared:
    """What the pipeline is given, at the request's size, and what the paste-back needs."""

    image: Image.Image  # RGB, request.width x request.height (the outpainted canvas, filled);
    # its own size when only the masked area is worked
    mask: Image.Image | None  # L, same size: 255 repaint, 0 keep; None for image-to-image
    original: Image.Image  # RGB, same size: the pixels a kept area must end up with
    notices: tuple[str, ...] = ()


def open_picture(path: str, field: str) -> Image.Image:
    """The file at `path`, decoded, within the pixel budget; InvalidRequest in words otherwise."""
    label = _LABEL.get(field, "image")
    name = Path(path).name or path
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _problem(field, f"The {label} {name} is {width}x{height} pixels, more than Studio "
                               f"opens ({MAX_PIXELS:,} pixels at most).")
            image.load()
            return ImageOps.exif_transpose(image) or image
    except InvalidRequest:
        raise
    except FileNotFoundError:
        raise _problem(field, f"The {label} {name} does not exist (looked at {path}).") from None
    except IsADirectoryError:
        raise _problem(field, f"The {label} {name} is a folder, not a picture.") from None
    except PermissionError:
        raise _problem(field, f"Studio may not read the {label} {name}; check its permissions.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _problem(field, f"The {label} {name} has more pixels than Studio opens.") from None
    except (OSError, ValueError, SyntaxError):
        # Pillow reports a file that is no picture, or one cut short, as one of these.
        raise _problem(field, f"The {label} {name} is not a picture Studio can read, or it is damaged "
                       "or cut short.") from None


def prepare(request: GenerationRequest) -> Prepared:
    """The start image (and mask) for `request`, fitted to its size."""
    notices: list[str] = []
    source = _rgb(open_picture(request.start_image, "start_image"))
    width, height = request.width, request.height
    left, top, right, bottom = request.outpaint
    if any(request.outpaint):
        inner_w, inner_h = width - left - right, height - top - bottom
        if inner_w < 8 or inner_h < 8:
            raise _problem("outpaint", f"Outpainting {left}, {top}, {right}, {bottom} pixels leaves no room "
                           f"for the picture in {request.size}; make the size larger or the border smaller.")
        inner = fit(source, inner_w, inner_h, request.fit)
        canvas, border = extend(inner, (left, top, right, bottom))
        mask: Image.Image | None = border
        if request.mask:
            painted = _mask_for(request.mask, inner.size)
            mask = Image.fromarray(np.maximum(np.asarray(border), np.asarray(extend_mask(painted, request.outpaint))))
        original = canvas
    elif request.masked_area_only and request.mask:
        # The picture keeps its own size: only the area around the mask is worked, at the run's size.
        canvas = original = source
        mask = _mask_for(request.mask, canvas.size)
    else:
        if source.size != (width, height):
            notices.append(f"The start image is {source.width}x{source.height}; it was "
                           f"{'cropped' if request.fit == 'crop' else 'fitted'} to {request.size}.")
        canvas = original = fit(source, width, height, request.fit)
        mask = _mask_for(request.mask, canvas.size) if request.mask else None
    if mask is not None and not np.asarray(mask).any():
        raise _problem("mask", "The mask is black everywhere, so nothing would change. Paint the area to "
                       "repaint in white.")
    return Prepared(canvas, mask, original, tuple(notices))


def fit(image: Image.Image, width: int, height: int, how: str) -> Image.Image:
    """`image` at width x height: "crop" fills and crops the overflow (centred), "fit" shows it
    whole and fills the rest from its own edges, "stretch" ignores the aspect ratio."""
    if image.size == (width, height):
        return image
    if how == "stretch":
        return image.resize((width, height), Image.Resampling.LANCZOS)
    if how == "crop":
        return ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    inner = ImageOps.contain(image, (width, height), Image.Resampling.LANCZOS)
    left, top = (width - inner.width) // 2, (height - inner.height) // 2
    canvas, _ = extend(inner, (left, top, width - inner.width - left, height - inner.height - top))
    return canvas


def extend(image: Image.Image, margins: tuple[int, int, int, int]) -> tuple[Image.Image, Image.Image]:
    """`image` on a larger canvas, the new border filled from the picture's own edge colours
    (smeared outward, then blurred) so the model starts from plausible colours rather than grey;
    and the border as a mask (255 where the canvas is new)."""
    left, top, right, bottom = margins
    pixels = np.asarray(image.convert("RGB"))
    padded = np.pad(pixels, ((top, bottom), (left, right), (0, 0)), mode="edge")
    filled = Image.fromarray(padded)
    keep = Image.new("L", filled.size, 0)
    keep.paste(255, (left, top, left + image.width, top + image.height))
    radius = max(margins) / 4
    if radius:
        filled = Image.composite(filled, filled.filter(ImageFilter.GaussianBlur(radius)), keep)
    return filled, ImageOps.invert(keep)


def extend_mask(mask: Image.Image, margins: tuple[int, int, int, int]) -> Image.Image:
    left, top, right, bottom = margins
    return Image.fromarray(np.pad(np.asarray(mask), ((top, bottom), (left, right))))


def soft_mask(mask: Image.Image, blur: int) -> Image.Image:
    """The mask with a soft edge of `blur` pixels, grown outward so that the edge lies on the
    repainted side and nothing marked "keep" further than `blur` away is ever touched."""
    if blur <= 0:
        return mask
    grown = mask.filter(ImageFilter.MaxFilter(2 * (blur // 2) + 1))
    return grown.filter(ImageFilter.GaussianBlur(blur / 2))


def paste_back(result: Image.Image, original: Image.Image, mask: Image.Image, blur: int) -> Image.Image:
    """The result where the mask repaints and the original pixels, unchanged, where it keeps."""
    soft = soft_mask(mask, blur)
    weights = np.asarray(soft, dtype=np.float32)[..., None] / 255.0
    new = np.asarray(result.convert("RGB").resize(original.size), dtype=np.float32)
    old = np.asarray(original, dtype=np.float32)
    mixed = np.rint(new * weights + old * (1.0 - weights)).astype(np.uint8)
    return Image.fromarray(mixed)


def masked_box(mask: Image.Image, padding: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The box around the mask plus `padding`, grown to the run's aspect ratio and kept
    inside the picture: the area "only the masked area" works at full size."""
    box = mask.getbbox()
    if box is None:
        return (0, 0, mask.width, mask.height)
    x0, y0 = float(box[0] - padding), float(box[1] - padding)
    x1, y1 = float(box[2] + padding), float(box[3] + padding)
    w, h = x1 - x0, y1 - y0
    aspect = width / height
    if w / h < aspect:
        grow = h * aspect - w
        x0, x1 = x0 - grow / 2, x1 + grow / 2
    else:
        grow = w / aspect - h
        y0, y1 = y0 - grow / 2, y1 + grow / 2
    w, h = min(x1 - x0, mask.width), min(y1 - y0, mask.height)
    x0 = min(max(0.0, x0), mask.width - w)
    y0 = min(max(0.0, y0), mask.height - h)
    return (round(x0), round(y0), round(x0 + w), round(y0 + h))


def _mask_for(path: str, size: tuple[int, int]) -> Image.Image:
    """A mask file as L at `size`: alpha masks (transparent = repaint, as editors export them)
    and colour masks are both read; a mask of another size is scaled to the picture."""
    picture = open_picture(path, "mask")
    extrema = picture.getextrema()
    alpha = extrema[-1] if picture.mode in ("RGBA", "LA") else None
    if isinstance(alpha, tuple) and alpha[0] < 255:
        grey = ImageOps.invert(picture.getchannel("A"))
    else:
        grey = picture.convert("L")
    if grey.size != size:
        grey = grey.resize(size, Image.Resampling.BILINEAR)
    return grey


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if "A" in image.getbands() or image.mode == "P":
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _problem(field: str, message: str) -> InvalidRequest:
    return InvalidRequest([FieldProblem(field, message)])
