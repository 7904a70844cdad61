"""A tiny CLIP byte-level BPE vocabulary that spells every caption word as one token.

Any other text still tokenizes (byte by byte), so no prompt can fail to encode.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from pathlib import Path

from transformers import CLIPTokenizer

from studio.demo import configs, shapes

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


def _bytes_to_unicode() -> dict[int, str]:
    # The byte <-> printable character table of GPT-2 and CLIP.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs], strict=True))


def vocab_and_merges(words: list[str]) -> tuple[dict[str, int], list[tuple[str, str]]]:
    base = list(_bytes_to_unicode().values())
    tokens = base + [b + "</w>" for b in base]
    merges: list[tuple[str, str]] = []
    seen = set(tokens)
    for word in words:
        # Start from what the merges so far make of the word, then join the pieces left to
        # right; later merges rank lower, so they never change how earlier words split.
        parts = _apply([*list(word[:-1]), word[-1] + "</w>"], merges)
        while len(parts) > 1:
            merged = parts[0] + parts[1]
            merges.append((parts[0], parts[1]))
            if merged not in seen:
                tokens.append(merged)
                seen.add(merged)
            parts = [merged, *parts[2:]]
    tokens += [BOS, EOS]
    return {t: i for i, t in enumerate(tokens)}, merges


def _apply(parts: list[str], merges: list[tuple[str, str]]) -> list[str]:
    rank = {m: i for i, m in enumerate(merges)}
    while len(parts) > 1:
        pairs = [(rank.get((a, b), len(rank)), i) for i, (a, b) in enumerate(itertools.pairwise(parts))]
        best, i = min(pairs)
        if best == len(rank):
            break
        parts = [*parts[:i], parts[i] + parts[i + 1], *parts[i + 2 :]]
    return parts


def write_files(folder: Path) -> None:
    """vocab.json and merges.txt for the caption words."""
    vocab, merges = vocab_and_merges(shapes.caption_words())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in merges)]
    (folder / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def build() -> CLIPTokenizer:
    vocab, merges = vocab_and_merges(shapes.caption_words())
    return CLIPTokenizer(
        vocab=vocab,
        merges=merges,
        model_max_length=configs.MAX_TOKENS,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=EOS,
        unk_token=EOS,
    )


def save(tok: CLIPTokenizer, folder: Path) -> None:
    """save_pretrained, plus vocab.json and merges.txt for loaders that read only those."""
    tok.save_pretrained(str(folder))
    if not (folder / "vocab.json").exists() or not (folder / "merges.txt").exists():
        with tempfile.TemporaryDirectory() as tmp:
            write_files(Path(tmp))
            for name in ("vocab.json", "merges.txt"):
                shutil.copyfile(Path(tmp) / name, folder / name)
