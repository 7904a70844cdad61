"""NovelAI: `Software` is "NovelAI", settings in the `Comment` JSON, the prompt in `Description`."""

from __future__ import annotations

from studio.library.metadata.model import ImageMetadata, as_text

_SAMPLERS = {
    "k_euler": "Euler",
    "k_euler_ancestral": "Euler a",
    "k_dpmpp_2m": "DPM++ 2M",
    "ddim": "DDIM",
    "ddim_v3": "DDIM",
}


def parse_novelai(texts: dict[str, str], comment: object) -> ImageMetadata:
    meta = ImageMetadata(source="NovelAI")
    meta.model = texts.get("Source") or None
    data = comment if isinstance(comment, dict) else {}
    if not isinstance(comment, dict):
        meta.problems.append("The NovelAI Comment is missing or not JSON; only the prompt is read.")
    meta.prompt = as_text(data.get("prompt")) or texts.get("Description")
    v4 = data.get("v4_prompt")
    if meta.prompt is None and isinstance(v4, dict):
        caption = v4.get("caption")
        if isinstance(caption, dict):
            meta.prompt = as_text(caption.get("base_caption"))
    meta.negative_prompt = as_text(data.get("uc"))
    meta.read_int("seed", data.get("seed"))
    meta.read_int("steps", data.get("steps"))
    meta.read_float("guidance", data.get("scale"))
    meta.read_int("width", data.get("width"))
    meta.read_int("height", data.get("height"))
    sampler = as_text(data.get("sampler"))
    if sampler:
        meta.sampler = sampler
        schedule = as_text(data.get("noise_schedule")) or ""
        base = _SAMPLERS.get(sampler)
        if base and schedule == "karras" and base == "DPM++ 2M":
            meta.scheduler = "DPM++ 2M Karras"
        elif base:
            meta.scheduler = base
        else:
            meta.map_scheduler(schedule)
    if meta.prompt is None:
        meta.problems.append("The NovelAI metadata has no prompt.")
    meta.build_request()
    return meta
