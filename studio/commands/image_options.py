"""The `studio generate` options that start from a picture: image-to-image, inpainting,
outpainting, variations and the hires pass."""

from __future__ import annotations

import argparse
import re
from typing import Any

from studio.engine.run.request import FITS, SIZE_MULTIPLE, SIZE_RANGE

_MARGINS = re.compile(r"^\s*(\d+)\s*(?:,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*)?$")


def add_image_arguments(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("from a picture")
    group.add_argument("--image", metavar="IN.png", help="start from this picture (image-to-image)")
    group.add_argument("--strength", type=float, help="how far the picture is noised, 0-1 (default 0.75): "
                       "0 keeps it, 1 draws anew")
    group.add_argument("--mask", metavar="MASK.png", help="repaint only where the mask is white (black keeps, "
                       "grey partly); a mask of another size is scaled to the picture")
    group.add_argument("--mask-blur", type=int, help="pixels of soft edge around the mask (default 4)")
    group.add_argument("--only-masked", action="store_true", help="work the area around the mask at the full "
                       "--size and paste it back (small details on a big picture)")
    group.add_argument("--outpaint", metavar="L,T,R,B", help="extend the canvas by these pixels on the left, "
                       "top, right and bottom (or one number for every side)")
    group.add_argument("--fit", choices=FITS, help="how a picture of another shape meets --size (default crop)")
    group.add_argument("--variation-seed", type=int, help="a second seed whose noise is blended in")
    group.add_argument("--variation-strength", type=float, help="how much of the variation seed, 0-1")
    group.add_argument("--hires", type=float, metavar="SCALE", help="upscale by SCALE and refine (hires fix)")
    group.add_argument("--hires-strength", type=float, help="strength of the hires pass (default 0.5)")
    group.add_argument("--hires-steps", type=int, help="steps of the hires pass (default: --steps)")
    group.add_argument("--upscaler", help="upscaler for the hires pass (default Lanczos)")


def image_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields these options set; ValueError in words for one that cannot be read."""
    fields: dict[str, Any] = {}
    if args.image is not None:
        fields["start_image"] = args.image
    if args.mask is not None:
        fields["mask"] = args.mask
    if args.outpaint is not None:
        match = _MARGINS.match(args.outpaint)
        if not match:
            raise ValueError(f"--outpaint takes LEFT,TOP,RIGHT,BOTTOM pixels (or one number), "
                             f"not {args.outpaint!r}.")
        numbers = [int(n) for n in match.groups() if n is not None]
        fields["outpaint"] = tuple(numbers * 4 if len(numbers) == 1 else numbers)
    for option, name in (("strength", "strength"), ("mask_blur", "mask_blur"), ("fit", "fit"),
                         ("variation_seed", "variation_seed"), ("variation_strength", "variation_strength"),
                         ("hires", "hires_scale"), ("hires_strength", "hires_strength"),
                         ("hires_steps", "hires_steps"), ("upscaler", "hires_upscaler")):
        value = getattr(args, option)
        if value is not None:
            fields[name] = value
    if args.only_masked:
        fields["masked_area_only"] = True
    if fields.get("variation_seed") is not None and "variation_strength" not in fields:
        fields["variation_strength"] = 0.5  # a variation seed alone should make a variation
    return fields


def size_from_picture(width: int, height: int, margins: tuple[int, int, int, int]) -> tuple[int, int, str]:
    """The run's size for a start picture of width x height plus outpainted margins: its own,
    kept within what the models take (a multiple of 8, at most 2048 a side); and a notice
    saying how it was changed, or ""."""
    w, h = width + margins[0] + margins[2], height + margins[1] + margins[3]
    scale = min(1.0, SIZE_RANGE[1] / max(w, h))
    fitted = [max(SIZE_RANGE[0], min(SIZE_RANGE[1], round(side * scale / SIZE_MULTIPLE) * SIZE_MULTIPLE))
              for side in (w, h)]
    notice = ""
    if (fitted[0], fitted[1]) != (w, h):
        notice = (f"The picture makes {w}x{h}; Studio runs at {fitted[0]}x{fitted[1]} (sizes are "
                  f"multiples of {SIZE_MULTIPLE}, at most {SIZE_RANGE[1]} a side).")
    return fitted[0], fitted[1], notice
