"""InvokeAI: `invokeai_metadata` (3.0 and later), and `sd-metadata` / `Dream` (2.x)."""

from __future__ import annotations

import re
import shlex

from studio.library.metadata.model import ImageMetadata, as_text

# InvokeAI's scheduler names -> the AUTOMATIC1111 names Studio maps from.
_SCHEDULERS = {
    "euler": "Euler",
    "euler_a": "Euler a",
    "k_euler": "Euler",
    "k_euler_a": "Euler a",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_2m_k": "DPM++ 2M Karras",
    "ddim": "DDIM",
    "unipc": "UniPC",
    "lcm": "LCM",
}
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
MAX_DREAM_CHARS = 256 * 1024  # a prompt and its flags


def parse_invokeai(data: object) -> ImageMetadata:
    """InvokeAI 3+ `invokeai_metadata` JSON."""
    meta = ImageMetadata(source="InvokeAI")
    if not isinstance(data, dict):
        meta.problems.append("The InvokeAI metadata is not a JSON object.")
        return meta
    meta.prompt = as_text(data.get("positive_prompt"))
    meta.negative_prompt = as_text(data.get("negative_prompt"))
    meta.read_int("seed", data.get("seed"))
    meta.read_int("steps", data.get("steps"))
    meta.read_float("guidance", data.get("cfg_scale"))
    meta.read_int("width", data.get("width"))
    meta.read_int("height", data.get("height"))
    model = data.get("model")
    if isinstance(model, dict):
        meta.model = as_text(model.get("model_name")) or as_text(model.get("name"))
    else:
        meta.model = as_text(model)
    _sampler(meta, as_text(data.get("scheduler")))
    if meta.prompt is None:
        meta.problems.append("The InvokeAI metadata has no positive_prompt.")
    meta.build_request()
    return meta


def parse_sd_metadata(data: object) -> ImageMetadata:
    """InvokeAI 2.x `sd-metadata` JSON: settings under "image", negative prompt in [brackets]."""
    meta = ImageMetadata(source="InvokeAI")
    image = data.get("image") if isinstance(data, dict) else None
    if not isinstance(image, dict):
        meta.problems.append("The sd-metadata has no image settings.")
        return meta
    assert isinstance(data, dict)
    prompt = image.get("prompt")
    if isinstance(prompt, list):  # [{"prompt": "...", "weight": 1.0}, ...]
        prompt = " ".join(str(p.get("prompt", "")) for p in prompt if isinstance(p, dict))
    if isinstance(prompt, str):
        meta.prompt, meta.negative_prompt = split_brackets(prompt)
    else:
        meta.problems.append("The sd-metadata has no prompt.")
    meta.read_int("seed", image.get("seed"))
    meta.read_int("steps", image.get("steps"))
    meta.read_float("guidance", image.get("cfg_scale"))
    meta.read_int("width", image.get("width"))
    meta.read_int("height", image.get("height"))
    meta.model = as_text(data.get("model_weights")) or as_text(data.get("model"))
    _sampler(meta, as_text(image.get("sampler")))
    meta.build_request()
    return meta


def parse_dream(text: str) -> ImageMetadata:
    """InvokeAI 1.x/2.x `Dream` command line: "prompt" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms"""
    meta = ImageMetadata(source="InvokeAI")
    if len(text) > MAX_DREAM_CHARS:
        meta.problems.append(f"The Dream command line is {len(text):,} characters long; Studio reads "
                             f"{MAX_DREAM_CHARS:,} at most, so it was not read.")
        return meta
    try:
        words = shlex.split(text)
    except ValueError:
        meta.problems.append("The Dream command line could not be split into words.")
        return meta
    flags: dict[str, str] = {}
    prompt_words: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if re.fullmatch(r"-[A-Za-z]", word) and i + 1 < len(words):
            flags[word] = words[i + 1]
            i += 2
            continue
        if word.startswith("--") and "=" in word:
            key, _, value = word.partition("=")
            flags[key] = value
        elif not word.startswith("-"):
            prompt_words.append(word)
        i += 1
    meta.prompt, meta.negative_prompt = split_brackets(" ".join(prompt_words))
    meta.read_int("steps", flags.get("-s", flags.get("--steps")))
    meta.read_int("seed", flags.get("-S", flags.get("--seed")))
    meta.read_int("width", flags.get("-W", flags.get("--width")))
    meta.read_int("height", flags.get("-H", flags.get("--height")))
    meta.read_float("guidance", flags.get("-C", flags.get("--cfg_scale")))
    _sampler(meta, flags.get("-A", flags.get("--sampler")))
    meta.build_request()
    return meta


def split_brackets(prompt: str) -> tuple[str, str]:
    """InvokeAI 2 wrote the negative prompt inside [brackets] in the prompt."""
    negative = ", ".join(part.strip() for part in _BRACKETS.findall(prompt) if part.strip())
    positive = re.sub(r"\s+", " ", _BRACKETS.sub("", prompt)).strip(" ,")
    return positive, negative


def _sampler(meta: ImageMetadata, name: str | None) -> None:
    if not name:
        return
    meta.sampler = name
    mapped = _SCHEDULERS.get(name.lower())
    if mapped is None:
        meta.map_scheduler()
    else:
        meta.scheduler = mapped
