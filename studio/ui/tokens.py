"""Count prompt tokens the way a CLIP text encoder will, without torch or transformers.

Reads the model's tokenizer/tokenizer.json with the `tokenizers` package, or else its
vocab.json and merges.txt, set up as CLIP's fast tokenizer is (NFC, collapsed whitespace,
lower case, byte-level BPE).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# CLIP's pre-tokenizer pattern, from the original tokenizer.
_CLIP_SPLIT = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


class TokenCounter:
    """Counts the tokens of a prompt, including the start and end tokens the encoder adds."""

    def __init__(self, tokenizer: Any, limit: int | None, *, adds_specials: bool) -> None:
        self._tokenizer = tokenizer
        self._extra = 0 if adds_specials else 2
        self.limit = limit

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text).ids) + self._extra

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
