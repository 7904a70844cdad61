"""Count prompt tokens the way a CLIP text encoder will, without torch or transformers.

Reads the model's tokenizer/tokenizer.json with the `tokenizers` package, or else its
vocab.json and merges.txt, set up as CLIP's fast tokenizer is (NFC, collapsed whitespace,
lower case, byte-level BPE).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.prompting.conditioning import EMBEDDED_PIPELINES
from studio.engine.prompting.syntax import parse_prompt

CHUNKED_FAMILIES = ("SD 1.x", "SD 2.x", "SDXL")  # where Studio encodes long prompts in chunks

# CLIP's pre-tokenizer pattern, from the original tokenizer.
_CLIP_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


def reads_prompt_in_chunks(model_path: Path, family: str) -> bool:
    """Whether Studio encodes this model's long prompts in chunks (SD 1.x/2.x and SDXL, a
    checkpoint file of those families or a folder of their pipelines), rather than cutting them."""
    if family in CHUNKED_FAMILIES:
        return True
    try:
        index = json.loads((model_path / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(index, dict) and index.get("_class_name") in EMBEDDED_PIPELINES


@dataclass(frozen=True)
class PromptTokens:
    """What the token counter shows: tokens, chunks of `window` tokens, and whether past the
    window they are read in further chunks (else ignored)."""

    tokens: int
    chunks: int
    window: int | None
    chunked: bool

    @property
    def over(self) -> bool:
        """Tokens the encoder will not read."""
        return not self.chunked and self.window is not None and self.tokens > self.window

    @property
    def label(self) -> str:
        if self.chunked:
            return f"{self.tokens} tokens · {self.chunks} chunk{'s' if self.chunks > 1 else ''}"
        return f"{self.tokens} / {self.window} tokens" if self.window else f"{self.tokens} tokens"

    @property
    def tooltip(self) -> str:
        if self.chunked:
            return (f"The prompt is read in chunks of {self.window} tokens, none of it cut off; "
                    "BREAK starts a new chunk.")
        if self.over:
            return f"The text encoder reads {self.window} tokens; the rest of the prompt is ignored."
        return "Tokens of the prompt that the text encoder reads."


class TokenCounter:
    """Counts the tokens of a prompt, including the start and end tokens the encoder adds."""

    def __init__(self, tokenizer: Any, limit: int | None, *, adds_specials: bool) -> None:
        self._tokenizer = tokenizer
        self._extra = 0 if adds_specials else 2
        self.limit = limit

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids) + self._extra

    def prompt_tokens(self, prompt: str, chunked: bool) -> PromptTokens:
        """The prompt's own tokens (syntax and LoRA tags left out, start and end tokens not
        counted) and, where the model reads long prompts in chunks, how many chunks they fill:
        each BREAK starts a new one."""
        parsed = parse_prompt(prompt)
        window = self.limit - 2 if self.limit else None
        if not chunked or window is None:
            return PromptTokens(self.count(parsed.plain_text()) - 2, 1, window, chunked=False)
        segments = parsed.at_step(1, 10_000)
        counts = [self.count("".join(f.text for f in segment)) - 2 for segment in segments]
        chunks = sum(max(1, math.ceil(n / window)) for n in counts)
        return PromptTokens(sum(counts), chunks, window, chunked=True)

    @classmethod
    def for_model(cls, model_dir: Path, limit: int | None) -> TokenCounter | None:
        """A counter for a diffusers model folder, or None when it has no tokenizer files."""
        folder = model_dir / "tokenizer"
        vocab, merges = folder / "vocab.json", folder / "merges.txt"
        try:
            if (folder / "tokenizer.json").is_file():
                from tokenizers import Tokenizer

                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                tokenizer.no_truncation()
                tokenizer.no_padding()
                return cls(tokenizer, limit, adds_specials=True)
            if vocab.is_file() and merges.is_file():
                return cls(_clip_tokenizer(vocab, merges), limit, adds_specials=False)
        except Exception:  # a tokenizer we cannot read just means no counter
            return None
        return None


def _clip_tokenizer(vocab: Path, merges: Path) -> Any:
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    model = models.BPE.from_file(
        str(vocab),
        str(merges),
        unk_token="<|endoftext|>",
        continuing_subword_prefix="",
        end_of_word_suffix="</w>",
        fuse_unk=False,
    )
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer
