from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from studio.library import png_encoder


@pytest.mark.parametrize(("mode", "shape"), [("RGB", (700, 800, 3)), ("RGBA", (33, 17, 4)), ("L", (5, 9))])
def test_pixels_and_chunks_round_trip(mode: str, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
    image = Image.fromarray(pixels, mode)
    data = png_encoder.encode(
        image, [("parameters", "a café, 🌟"), ("plain", "latin")], [(b"stFm", b"\x00film")]
    )
    decoded = Image.open(io.BytesIO(data))
    decoded.load()
    assert decoded.mode == mode
    assert np.array_equal(np.asarray(decoded), pixels)
    assert decoded.text == {"parameters": "a café, 🌟", "plain": "latin"}
    assert b"stFm\x00film" in data


def test_large_images_deflate_in_blocks_into_one_valid_stream() -> None:
    y, x = np.mgrid[0:1024, 0:1024]
    pixels = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    data = png_encoder.encode(Image.fromarray(pixels), [], [])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), pixels)
    assert len(data) < pixels.nbytes / 4  # the Up filter makes smooth images small


def test_only_8_bit_modes_take_the_fast_path() -> None:
    assert png_encoder.can_encode(Image.new("RGB", (1, 1)))
    assert not png_encoder.can_encode(Image.new("I;16", (1, 1)))
    assert not png_encoder.can_encode(Image.new("P", (1, 1)))
