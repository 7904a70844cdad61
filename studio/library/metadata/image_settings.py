"""The settings of a run from a picture (strength, mask blur, hires pass, variation seed) in
the metadata: written as AUTOMATIC1111 writes them, and read back from its files and Studio's.

A1111 writes "Denoising strength" for both image-to-image and the hires pass of a
text-to-image run; which one it means follows from whether the file has a hires pass.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from studio.engine.run.request import GenerationRequest, UsedAddOn
from studio.library.metadata.numbers import as_float, as_int, as_text, shown

# Request fields carried by the studio chunk, beyond the text-to-image ones.
IMAGE_FIELDS = (
    "start_image", "strength", "mask", "mask_blur", "masked_area_only", "masked_area_padding", "fit",
    "outpaint", "variation_seed", "variation_strength", "hires_scale", "hires_strength", "hires_steps",
    "hires_upscaler",
)
_A1111_NUMBERS = {  # infotext key -> (request field, reader)
    "Mask blur": ("mask_blur", as_int),
    "Hires upscale": ("hires_scale", as_float),
    "Hires steps": ("hires_steps", as_int),
    "Variation seed": ("variation_seed", as_int),
    "Variation seed strength": ("variation_strength", as_float),
}
A1111_KEYS = frozenset([*_A1111_NUMBERS, "Denoising strength", "Hires upscaler", "Lora hashes", "TI hashes"])
_HASH_KEYS = {"Lora hashes": "lora", "TI hashes": "embedding"}
MAX_HASHES = 64


def infotext_fields(request: GenerationRequest) -> list[tuple[str, object]]:
    """The infotext pairs for what `request` does beyond text-to-image."""
    fields: list[tuple[str, object]] = []
    hires = float(request.hires_scale) > 1
    if request.mode != "text":
        fields.append(("Denoising strength", f"{float(request.strength):g}"))
    if request.mode == "inpaint":
        fields.append(("Mask blur", request.mask_blur))
    if request.variation_seed is not None and float(request.variation_strength) > 0:
        fields.append(("Variation seed", request.variation_seed))
        fields.append(("Variation seed strength", f"{float(request.variation_strength):g}"))
    if hires:
        if request.mode == "text":
            fields.append(("Denoising strength", f"{float(request.hires_strength):g}"))
        fields.append(("Hires upscale", f"{float(request.hires_scale):g}"))
        if request.hires_steps:
            fields.append(("Hires steps", request.hires_steps))
        fields.append(("Hires upscaler", request.hires_upscaler))
    for kind, key in (("lora", "Lora hashes"), ("embedding", "TI hashes")):
        hashes = [f"{a.name}: {a.short_hash}" for a in request.addons if a.kind == kind and a.short_hash]
        if hashes:
            fields.append((key, ", ".join(hashes)))
    return fields


def read_infotext(params: dict[str, str], problems: list[str]) -> dict[str, Any]:
    """Request fields from an infotext's settings; what cannot be read is noted and dropped."""
    values: dict[str, Any] = {}
    for key, (name, reader) in _A1111_NUMBERS.items():
        if key in params:
            value = reader(params[key])
            if value is None:
                problems.append(f"Could not read the {key.lower()} {shown(params[key])}; it was dropped.")
            else:
                values[name] = value
    if params.get("Hires upscaler"):
        values["hires_upscaler"] = params["Hires upscaler"]
    if "Denoising strength" in params:
        strength = as_float(params["Denoising strength"])
        if strength is None:
            problems.append(f"Could not read the denoising strength {shown(params['Denoising strength'])}; "
                            "it was dropped.")
        else:
            values["hires_strength" if "hires_scale" in values else "strength"] = strength
    addons = [a for key, kind in _HASH_KEYS.items() if key in params for a in _hashes(params[key], kind)]
    if addons:
        values["addons"] = tuple(addons[:MAX_HASHES])
    return values


def _hashes(text: str, kind: str) -> list[UsedAddOn]:
    """`name: hash, name2: hash2` as AUTOMATIC1111 writes its LoRA and embedding hashes."""
    found = []
    for part in text.split(",")[:MAX_HASHES]:
        name, _, short_hash = part.rpartition(":")
        name, short_hash = name.strip(), short_hash.strip()
        if name and short_hash and len(short_hash) <= 64 and short_hash.isalnum():
            found.append(UsedAddOn(kind, name[:256], short_hash=short_hash.lower()))
    return found


def read_studio(raw: dict[str, Any]) -> dict[str, Any]:
    """Request fields from a studio chunk's request, as written (checked by `apply`)."""
    values: dict[str, Any] = {}
    for name in IMAGE_FIELDS:
        if name not in raw or raw[name] is None:
            continue
        value = raw[name]
        if name == "outpaint" and isinstance(value, list):
            value = tuple(value)
        if name in ("start_image", "mask", "fit", "hires_upscaler"):
            value = as_text(value)
        values[name] = value
    return values


def apply(request: GenerationRequest, values: dict[str, Any], problems: list[str]) -> GenerationRequest:
    """`request` with each of `values` that it accepts; each refused one is noted and dropped."""
    for name, value in values.items():
        try:
            changed = dataclasses.replace(request, **{name: value})
        except TypeError:
            continue
        refused = [p.message for p in changed.field_problems() if p.field == name]
        if refused:
            problems.append(f"In the request read from the file: {refused[0]}")
            continue
        request = changed
    return request
