"""`<lora:NAME:WEIGHT>` tags: found anywhere in a prompt, taken out of the text the encoder sees."""

from __future__ import annotations

import re
from dataclasses import dataclass

# AUTOMATIC1111 also accepts `<lyco:...>` and an optional text-encoder weight after the unet one
# (`<lora:name:0.8:0.5>`); the first weight applies to both when only one is given.
# Groups: 1 the word (lora or lyco), 2 the name, 3 the weight, 4 the text-encoder weight.
# The prompt box's highlighting and editing read tags with this same pattern.
LORA_TAG_PATTERN = re.compile(r"<(lora|lyco):([^:<>]+?)(?::([^:<>]*))?(?::([^:<>]*))?>", re.IGNORECASE)


@dataclass(frozen=True)
class LoraTag:
    """One LoRA named in a prompt, with its weight (unet) and text-encoder weight."""

    name: str
    weight: float = 1.0
    text_weight: float | None = None

    @property
    def text_encoder_weight(self) -> float:
        return self.weight if self.text_weight is None else self.text_weight


@dataclass(frozen=True)
class BadLoraTag:
    """A tag whose weight is not a number: reported to the artist, never guessed."""

    tag: str
    reason: str


def extract_lora_tags(prompt: str) -> tuple[str, tuple[LoraTag, ...], tuple[BadLoraTag, ...]]:
    """The prompt without its LoRA tags, the tags in order of appearance (a name given twice
    keeps its last weight, as AUTOMATIC1111 does), and the tags that could not be read."""
    found: dict[str, LoraTag] = {}
    bad: list[BadLoraTag] = []

    def take(match: re.Match[str]) -> str:
        name = match.group(2).strip()
        try:
            weight = _number(match.group(3), 1.0)
            text_weight = _number(match.group(4), None)
        except ValueError:
            bad.append(BadLoraTag(match.group(0), f"The weight in {match.group(0)} is not a number."))
            return ""
        found.pop(name.lower(), None)
        found[name.lower()] = LoraTag(name, weight if weight is not None else 1.0, text_weight)
        return ""

    text = LORA_TAG_PATTERN.sub(take, prompt)
    return _tidy(text), tuple(found.values()), tuple(bad)


def _number(text: str | None, default: float | None) -> float | None:
    if text is None or not text.strip():
        return default
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return value


def _tidy(text: str) -> str:
    """Collapse the gaps a removed tag leaves (", ," and doubled spaces)."""
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s*,(\s*,)+", ",", text)
    return text.strip().strip(",").strip()
