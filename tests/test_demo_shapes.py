"""The demo model's world: generator, captions, held-out split, shape reader, tokenizer."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import numpy as np
import pytest

from studio.demo import classify, configs, shapes, tokenizer


def test_draw_is_deterministic_by_seed() -> None:
    labels = shapes.Labels("star", "red", "blue", "small", "left")
    a, b = shapes.draw(labels, 3), shapes.draw(labels, 3)
    assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
    assert np.array_equal(a.mask, b.mask)
    other = [shapes.draw(labels, s) for s in range(4, 12)]
    assert any(not np.array_equal(a.mask, o.mask) for o in other)


def test_pixels_follow_the_labels() -> None:
    s = shapes.draw(shapes.Labels("circle", "yellow", "purple", "large", "center"), 0)
    img = np.asarray(s.image)
    assert s.image.size == (64, 64)
    assert (img[s.mask] == shapes.COLORS["yellow"]).all()
    assert (img[~s.mask] == shapes.COLORS["purple"]).all()
    assert 0.1 < s.mask.mean() < 0.5


def test_position_moves_the_shape() -> None:
    def center_x(position: str) -> float:
        m = shapes.draw(shapes.Labels("square", "red", "white", "small", position), 1).mask
        return float(np.nonzero(m)[1].mean())

    assert center_x("left") < 24 < 40 < center_x("right")


def test_same_color_is_refused() -> None:
    with pytest.raises(ValueError, match="differ"):
        shapes.draw(shapes.Labels("star", "red", "red"), 0)


def test_captions_use_one_word_order() -> None:
    assert shapes.caption(shapes.Labels("star", "red", "blue")) == "a red star on a blue background"
    assert (
        shapes.caption(shapes.Labels("circle", "white", "black", "small", "left"))
        == "a small white circle at the left on a black background"
    )
    assert (
        shapes.caption(shapes.Labels("square", "orange", "green", None, "center"))
        == "an orange square in the center on a green background"
    )


def test_held_out_split() -> None:
    combos = shapes.all_combos()
    assert len(combos) == 8 * 7 * 4
    assert 0.08 <= len(shapes.HELD_OUT) / len(combos) <= 0.12
    assert set(shapes.TRAIN_COMBOS) | shapes.HELD_OUT == set(combos)
    train = shapes.TRAIN_COMBOS
    assert {c for c, _, _ in train} == set(shapes.COLOR_NAMES)
    assert {b for _, b, _ in train} == set(shapes.COLOR_NAMES)
    assert {s for _, _, s in train} == set(shapes.SHAPES)


def test_training_stream_never_shows_a_held_out_combination() -> None:
    for sample in itertools.islice(shapes.training_samples(0), 3000):
        assert sample.labels.combo not in shapes.HELD_OUT


def test_shape_reader_on_ground_truth() -> None:
    rng = random.Random(11)
    n, shape_ok, colors_ok = 400, 0, 0
    for i in range(n):
        s = shapes.draw(shapes.random_labels(rng, tuple(shapes.all_combos())), i)
        r = classify.read(np.asarray(s.image))
        shape_ok += r.shape == s.labels.shape
        colors_ok += r.background == s.labels.background and r.color == s.labels.color
    assert shape_ok / n >= 0.95
    assert colors_ok == n


def test_shape_reader_on_blank_picture() -> None:
    blank = np.zeros((64, 64, 3), dtype=np.uint8)
    r = classify.read(blank)
    assert r.background == "black"
    assert r.shape is None and r.color is None


@pytest.fixture(scope="module")
def tok():  # type: ignore[no-untyped-def]
    return tokenizer.build()


def test_caption_words_are_single_tokens(tok) -> None:  # type: ignore[no-untyped-def]
    for word in shapes.caption_words():
        assert len(tok(word, add_special_tokens=False).input_ids) == 1, word


@pytest.mark.parametrize(
    "text",
    ["A RED Star!!", "a zebra 🦓 on the moon, please", "wörld ½ ⁂", "", "   ", "red " * 200],
)
def test_tokenizer_never_fails(tok, text: str) -> None:  # type: ignore[no-untyped-def]
    ids = tok(text, padding="max_length", truncation=True, max_length=tok.model_max_length).input_ids
    assert len(ids) == configs.MAX_TOKENS
    assert all(0 <= i < len(tok) for i in ids)


def test_tokenizer_lowercases(tok) -> None:  # type: ignore[no-untyped-def]
    assert tok("A RED STAR").input_ids == tok("a red star").input_ids


def test_saved_tokenizer_has_vocab_and_merges(tok, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from transformers import CLIPTokenizer

    tokenizer.save(tok, tmp_path)
    assert (tmp_path / "vocab.json").is_file() and (tmp_path / "merges.txt").is_file()
    (tmp_path / "tokenizer.json").unlink()  # as a loader that reads only vocab + merges would
    again = CLIPTokenizer.from_pretrained(str(tmp_path))
    text = "a small white circle at the left on a black background"
    assert again(text).input_ids == tok(text).input_ids
    assert again.model_max_length == configs.MAX_TOKENS


def test_shape_reader_survives_soft_edges() -> None:
    # Decoded pictures have soft edges; the reader must not depend on crisp ones.
    from PIL import ImageFilter

    rng = random.Random(12)
    n, ok = 200, 0
    for i in range(n):
        s = shapes.draw(shapes.random_labels(rng, tuple(shapes.all_combos())), i)
        r = classify.read(np.asarray(s.image.filter(ImageFilter.GaussianBlur(1.5))))
        ok += (r.shape, r.color, r.background) == (s.labels.shape, s.labels.color, s.labels.background)
    assert ok / n >= 0.95
