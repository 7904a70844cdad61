"""Which model family a LoRA or embedding was made for: from its training metadata where the
trainer wrote it, else from its key names and shapes. The names are the catalogue's own
("SD 1.x", "SD 2.x", "SDXL", "SD3", "Flux"); "unknown" when the file does not say."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

FAMILIES = ("SD 1.x", "SD 2.x", "SDXL", "SD3", "Flux")
UNKNOWN = "unknown"

Shapes = Mapping[str, tuple[int, ...]]

# The width each family's UNet attends to (its text encoders' output), and its text encoders' own.
_CROSS_ATTENTION = {768: "SD 1.x", 1024: "SD 2.x", 2048: "SDXL"}
_TEXT_WIDTH = {768: "SD 1.x", 1024: "SD 2.x", 1280: "SDXL"}
_DOWN_MARKERS = ("lora_down", "lora_a", "lora.down", "lora_linear_layer.down")
_FLUX_MARKERS = ("double_blocks", "single_blocks", "single_transformer_blocks")
_FLUX_WIDTH = 3072  # Flux's hidden width; SD3's transformers are 1536 (medium) to 2432 (large) wide


def family_from_metadata(metadata: Mapping[str, str]) -> str | None:
    """The family kohya's trainer or the model-spec fields name, None when they name none."""
    architecture = metadata.get("modelspec.architecture", "").lower()
    if architecture:
        family = _from_architecture(architecture)
        if family:
            return family
    base = metadata.get("ss_base_model_version", "").lower()
    for prefix, family in (("sdxl", "SDXL"), ("sd3", "SD3"), ("flux", "Flux"), ("sd_v2", "SD 2.x"),
                           ("sd_v1", "SD 1.x")):
        if base.startswith(prefix):
            return family
    if metadata.get("ss_v2", "").lower() == "true":
        return "SD 2.x"
    return None


def family_from_model_name(name: str) -> str | None:
    """A guess from the file name of the model a LoRA was trained on (kohya's `ss_sd_model_name`),
    used only when neither the metadata nor the shapes tell."""
    lower = name.lower().replace(" ", "").replace("-", "_")
    rules = (
        (("flux",), "Flux"),
        (("sd3", "sd_3"), "SD3"),
        (("sdxl", "sd_xl", "_xl_", "xl_base", "pony", "illustrious"), "SDXL"),
        (("v2_1", "v2_0", "sd21", "sd20", "sd2_", "768_v"), "SD 2.x"),
        (("v1_5", "v1_4", "sd15", "sd14", "sd_1.5", "sd1.5", "1.5_"), "SD 1.x"),
    )
    for needles, family in rules:
        if any(needle in lower for needle in needles):
            return family
    return None


def family_from_shapes(shapes: Shapes, *, kind: str) -> str | None:
    """The family that the key names and tensor shapes of a LoRA or embedding fit, or None."""
    if kind == "embedding":
        return _embedding_family(shapes)
    keys = [key.lower() for key in shapes]
    if any(marker in key for key in keys for marker in _FLUX_MARKERS):
        return "Flux"
    if any("joint_blocks" in key for key in keys):
        return "SD3"
    if any(key.startswith(("transformer.", "lora_transformer_")) for key in keys):
        widths = {_in_width(shapes, key) for key in shapes if _is_down(key.lower())}
        return "Flux" if _FLUX_WIDTH in widths else "SD3"
    if any(key.startswith(("lora_te1_", "lora_te2_", "text_encoder_2.")) for key in keys):
        return "SDXL"
    cross = _widths(shapes, lambda key: "attn2" in key and ("to_k" in key or "to_v" in key))
    for width in cross:
        if width in _CROSS_ATTENTION:
            return _CROSS_ATTENTION[width]
    text = _widths(shapes, lambda key: key.startswith(("lora_te_", "text_encoder.")) and "q_proj" in key)
    for width in text:
        if width in (768, 1024):
            return _TEXT_WIDTH[width]
    return None


def looks_like_embedding(shapes: Shapes) -> bool:
    """Textual-inversion vectors: AUTOMATIC1111's `emb_params`, SDXL's `clip_l`/`clip_g`, or the
    `string_to_param` table of older files."""
    keys = set(shapes)
    if not keys:
        return False
    if keys <= {"emb_params", "clip_l", "clip_g"}:
        return True
    return all(key.startswith("string_to_param") for key in keys)


def looks_like_lora(shapes: Shapes) -> bool:
    """Low-rank pairs in any of the layouts (LoRA, LoCon, LoHa, LoKr) that trainers write."""
    return any(
        marker in key.lower()
        for key in list(shapes)[:500]
        for marker in ("lora", "hada_", "lokr_", ".alpha", "oft_")
    )


def family_mismatch(name: str, kind: str, addon_family: str, model_family: str) -> str | None:
    """A sentence naming both families when the add-on `name` was made for another family than
    the current model's; None when they match or either is not known."""
    if addon_family not in FAMILIES or model_family not in FAMILIES or addon_family == model_family:
        return None
    what = "a LoRA" if kind == "lora" else "an embedding"
    return (
        f"“{name}” is {what} for {addon_family}; the current model is {model_family}. "
        f"Choose a {addon_family} model to use it, or {what} made for {model_family}."
    )


def _from_architecture(architecture: str) -> str | None:
    if "flux" in architecture:
        return "Flux"
    if "stable-diffusion-v3" in architecture or "sd3" in architecture:
        return "SD3"
    if "-xl" in architecture or "sdxl" in architecture:
        return "SDXL"
    if "stable-diffusion-v2" in architecture:
        return "SD 2.x"
    if "stable-diffusion-v1" in architecture:
        return "SD 1.x"
    return None


def _embedding_family(shapes: Shapes) -> str | None:
    if "clip_g" in shapes:
        return "SDXL"
    for key, shape in shapes.items():
        if (key == "emb_params" or key.startswith("string_to_param")) and shape:
            return {768: "SD 1.x", 1024: "SD 2.x"}.get(shape[-1])
    return None


def _is_down(key: str) -> bool:
    return any(marker in key for marker in _DOWN_MARKERS)


def _in_width(shapes: Shapes, key: str) -> int:
    shape = shapes[key]
    return shape[1] if len(shape) == 2 else 0  # a linear layer's down matrix: [rank, in]


def _widths(shapes: Shapes, wanted: Callable[[str], bool]) -> Iterable[int]:
    """The input widths of the down matrices whose (lower-case) key `wanted` accepts."""
    seen: list[int] = []
    for key in shapes:
        lower = key.lower()
        if _is_down(lower) and wanted(lower):
            width = _in_width(shapes, key)
            if width and width not in seen:
                seen.append(width)
    return seen
