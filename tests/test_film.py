"""The denoising film: kept in the gallery PNG, read back after a restart, exported per step."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.engine.run.request import GenerationRequest
from studio.library.film import FILM_CHUNK, FilmError, decode_film, film_chunk, read_film
from studio.library.store import save_image


@pytest.fixture(scope="module")
def run_with_film(tiny_sd_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A finished run of 9 steps on the tiny model, previews every 2 steps."""
    pytest.importorskip("torch")
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.previews.previewer import PreviewSettings
    from studio.engine.run.engine import Engine

    paths = StudioPaths.under(tmp_path_factory.mktemp("studio"))
    settings = PreviewSettings(decoder="linear", every=2, cache_dir=paths.cache_dir)
    engine = Engine(ModelRegistry(paths), device="cpu", dtype="fp32", previews=settings)
    request = GenerationRequest(
        prompt="a green disc", steps=9, width=48, height=48, model=str(tiny_sd_model), seed=5
    )
    outcome = engine.generate(request, lambda _e: None)
    assert outcome.kind == "finished"
    return outcome


def _save(outcome: Any, folder: Path) -> Path:
    return save_image(
        outcome.images[0], outcome.request, folder, extra_chunks=film_chunk(outcome.film)
    )


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_film_round_trips_through_the_gallery_png(run_with_film: Any, tmp_path: Path) -> None:
    path = _save(run_with_film, tmp_path)
    frames = read_film(path)  # a fresh read from disk, as after a restart
    assert len(frames) == run_with_film.request.steps == 9
    for stored, original in zip(frames, run_with_film.film, strict=True):
        assert stored.shape == original.shape and stored.dtype == np.uint8
        # a random model's previews are per-pixel noise, the worst case for lossy WebP:
        # the colours survive on average (smooth pictures are checked by PSNR below)
        means = stored.reshape(-1, 3).mean(0) - original.reshape(-1, 3).mean(0)
        assert np.abs(means).max() <= 12
    with Image.open(path) as image:  # the picture itself is untouched
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(run_with_film.images[0]))


def test_smooth_frames_keep_their_detail() -> None:
    from studio.engine.previews.synthetic import synthetic_images

    pictures = ((synthetic_images(12, 64, seed=3) + 1) * 127.5).astype(np.uint8)
    film = list(pictures.transpose(0, 2, 3, 1))
    frames = decode_film(film_chunk(film)[FILM_CHUNK])
    assert len(frames) == 12
    assert min(_psnr(a, b) for a, b in zip(frames, film, strict=True)) >= 25.0
    assert len(film_chunk(film)[FILM_CHUNK]) < 12 * 1024


def test_frames_are_shrunk_and_repeats_survive() -> None:
    rng = np.random.default_rng(1)
    big = [(rng.random((300, 200, 3)) * 255).astype(np.uint8) for _ in range(3)]
    film = [big[0], big[0], big[1], big[2], big[2], big[2]]
    frames = decode_film(film_chunk(film)[FILM_CHUNK])
    assert len(frames) == 6
    assert frames[0].shape == (128, 85, 3)
    assert np.array_equal(frames[3], frames[5])


def test_damaged_film_is_refused_in_words() -> None:
    data = film_chunk([np.zeros((8, 8, 3), np.uint8)] * 2)[FILM_CHUNK]
    with pytest.raises(FilmError, match="damaged"):
        decode_film(data[:-10])
    with pytest.raises(FilmError, match="newer Studio or is damaged"):
        decode_film(b"\x09" + data[1:])
    assert film_chunk([]) == {}


def _film_command(argv: list[str]) -> int:
    from studio.commands import film

    parser = argparse.ArgumentParser(prog="studio")
    film.register(parser.add_subparsers())
    args = parser.parse_args(["film", *argv])
    return int(args.handler(args))


@pytest.mark.parametrize("suffix", [".webp", ".gif"])
def test_studio_film_writes_one_frame_per_step(
    run_with_film: Any, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    image = _save(run_with_film, tmp_path / "gallery")
    out = tmp_path / f"film{suffix}"
    assert _film_command([str(image), str(out)]) == 0
    assert "9 steps" in capsys.readouterr().out
    with Image.open(out) as movie:
        assert movie.n_frames == 9
        assert min(movie.size) >= 256  # enlarged, nearest neighbour, to be seen


def test_studio_film_explains_an_image_without_film(
    run_with_film: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = save_image(run_with_film.images[0], run_with_film.request, tmp_path)
    out = tmp_path / "film.webp"
    assert _film_command([str(plain), str(out)]) == 1
    assert "has no denoising film" in capsys.readouterr().err
    assert not out.exists()
    assert _film_command([str(tmp_path / "missing.png"), str(out)]) == 1
    assert "cannot be opened" in capsys.readouterr().err
    assert _film_command([str(plain), str(tmp_path / "film.mp4")]) == 1
    assert ".webp or .gif" in capsys.readouterr().err
