"""`studio generate` end to end, in a subprocess, as a person would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _studio(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "studio", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _generate(model: Path, out: Path, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _studio(
        "generate", "--prompt", "a red circle", "--seed", "7", "--steps", "4", "--size", "64x64",
        "--model", str(model), "--out", str(out), *extra, home=home,
    )


def test_generate_writes_png_with_metadata_and_is_repeatable(tiny_sd_model: Path, tmp_path: Path) -> None:
    first = _generate(tiny_sd_model, tmp_path / "a", tmp_path / "home")
    assert first.returncode == 0, first.stderr
    paths = [Path(line) for line in first.stdout.splitlines()]
    assert len(paths) == 1 and paths[0].parent == tmp_path / "a"
    with Image.open(paths[0]) as image:
        params = image.text["parameters"]
        assert image.size == (64, 64)
        pixels = np.asarray(image.convert("RGB"))
    assert params.startswith("a red circle\n")
    assert "Steps: 4" in params and "Seed: 7" in params and "Size: 64x64" in params
    assert "Sampler: Euler" in params
    again = _generate(tiny_sd_model, tmp_path / "b", tmp_path / "home")
    assert again.returncode == 0, again.stderr
    with Image.open(again.stdout.strip()) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), pixels)


def test_batch_prints_one_path_per_image(tiny_sd_model: Path, tmp_path: Path) -> None:
    result = _generate(tiny_sd_model, tmp_path / "out", tmp_path / "home", "--batch", "2")
    assert result.returncode == 0, result.stderr
    paths = result.stdout.splitlines()
    assert len(paths) == 2 and len(set(paths)) == 2
    seeds = [Image.open(p).text["parameters"].split("Seed: ")[1].split(",")[0] for p in paths]
    assert seeds == ["7", "8"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--steps", "0"), "Steps must be a whole number from 1 to 500"),
        (("--size", "65x64"), "Width must be a multiple of 8"),
        (("--size", "big"), "--size must look like 512x512"),
        (("--scheduler", "Nope"), "Unknown scheduler 'Nope'"),
        (("--steps", "many"), "invalid int value"),
        (("--guidance", "99", "--batch", "40"), "Guidance must be"),
    ],
)
def test_bad_arguments_exit_2_and_write_nothing(
    tiny_sd_model: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "out"
    result = _generate(tiny_sd_model, out, tmp_path / "home", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert not out.exists()


def test_unknown_model_is_a_bad_argument(tmp_path: Path) -> None:
    result = _generate(tmp_path / "missing", tmp_path / "out", tmp_path / "home")
    assert result.returncode == 2
    assert "was not found" in result.stderr


def test_failed_run_exits_1_with_the_engines_message(tiny_sd_model: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_sd_model, broken)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not weights")
    result = _generate(broken, tmp_path / "out", tmp_path / "home")
    assert result.returncode == 1
    assert "unet/diffusion_pytorch_model.safetensors of the model broken is damaged" in result.stderr
    assert not (tmp_path / "out").exists()


def test_no_subcommand_help(tmp_path: Path) -> None:
    result = _studio("--help", home=tmp_path)
    assert result.returncode == 0
    assert "generate" in result.stdout


def test_generated_png_keeps_its_film_for_studio_film(tiny_sd_model: Path, tmp_path: Path) -> None:
    result = _generate(tiny_sd_model, tmp_path / "out", tmp_path / "home", "--steps", "5")
    assert result.returncode == 0, result.stderr
    film = tmp_path / "film.webp"
    exported = _studio("film", result.stdout.strip(), str(film), home=tmp_path / "home")
    assert exported.returncode == 0, exported.stderr
    with Image.open(film) as animation:
        assert animation.n_frames == 5


def test_without_a_display_the_app_says_so_instead_of_aborting(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(
        [sys.executable, "-m", "studio"], capture_output=True, text=True, timeout=120,
        env=env | {"STUDIO_HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert "needs a display" in result.stderr


def test_default_model_is_the_demo_and_draws_what_was_asked(tmp_path: Path) -> None:
    from studio.demo.classify import read

    result = _studio(
        "generate", "--prompt", "a yellow star on a purple background", "--seed", "1", "--batch", "4",
        "--out", str(tmp_path / "out"), home=tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    assert "built-in demo model" in result.stderr
    readings = [read(np.asarray(Image.open(p).convert("RGB"))) for p in result.stdout.split()]
    assert len(readings) == 4
    assert all(r.background == "purple" for r in readings)
    assert sum(r.color == "yellow" for r in readings) >= 3


def test_pickle_checkpoint_is_refused_until_allowed_by_name(tmp_path: Path) -> None:
    from tests.tiny_families import build_tiny_checkpoint

    ckpt = build_tiny_checkpoint(tmp_path / "ckpt", suffix=".ckpt")[0]
    args = ("generate", "--prompt", "x", "--seed", "1", "--steps", "2", "--size", "32x32",
            "--model", str(ckpt), "--out", str(tmp_path / "out"))
    refused = _studio(*args, home=tmp_path / "home")
    assert refused.returncode == 1
    assert "can run code" in refused.stderr and "--allow-pickle" in refused.stderr
    assert not (tmp_path / "out").exists()
    allowed = _studio(*args, "--allow-pickle", home=tmp_path / "home")
    assert allowed.returncode == 0, allowed.stderr
    assert Path(allowed.stdout.strip()).is_file()
    assert _studio(*args, home=tmp_path / "home").returncode == 1  # --allow-pickle held for one run


def test_pickle_checkpoint_allowed_in_the_app_loads_from_the_command_line(tmp_path: Path) -> None:
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from tests.tiny_families import build_tiny_checkpoint

    ckpt = build_tiny_checkpoint(tmp_path / "ckpt", suffix=".ckpt")[0]
    ModelRegistry(StudioPaths.under(tmp_path / "home")).pickle_consent.allow(ckpt)  # as Models… → Allow… does
    args = ("generate", "--prompt", "x", "--seed", "1", "--steps", "2", "--size", "32x32",
            "--model", str(ckpt), "--out", str(tmp_path / "out"))
    done = _studio(*args, home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).is_file()
