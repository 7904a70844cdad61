"""`studio generate --image/--mask/--outpaint/--variation-seed/--hires` end to end, and the
metadata those runs leave in their PNGs (written as AUTOMATIC1111 writes it, read back)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.engine.run.request import GenerationRequest
from studio.library.lineage import file_hash, restore_mask
from studio.library.metadata.a1111 import format_infotext, parse_infotext
from studio.library.metadata.reader import read_metadata


def _studio(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-pictures")
    y, x = np.mgrid[0:60, 0:70]
    Image.fromarray(np.stack([x * 3, y * 4, x + y], axis=-1).astype(np.uint8)).save(folder / "start.png")
    mask = Image.new("L", (70, 60), 0)
    mask.paste(255, (20, 20, 40, 40))
    mask.save(folder / "mask.png")
    Image.new("L", (70, 60), 0).save(folder / "black.png")
    (folder / "text.png").write_text("hello", encoding="utf-8")
    return {p.stem: p for p in folder.iterdir()}


def _generate(model: str, out: Path, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return _studio("generate", "--prompt", "a red circle", "--seed", "7", "--steps", "4", "--model", model,
                   "--out", str(out), *extra, home=home)


def test_inpainting_from_the_command_line_keeps_the_picture_and_records_the_run(
    tiny_sd_model: Path, files: dict[str, Path], tmp_path: Path,
) -> None:
    run = _generate(str(tiny_sd_model), tmp_path / "out", tmp_path / "home", "--image", str(files["start"]),
                    "--mask", str(files["mask"]), "--strength", "0.5", "--mask-blur", "2")
    assert run.returncode == 0, run.stderr
    # 70x60 is not a multiple of 8: the run says how it was sized.
    assert "note: The picture makes 70x60; Studio runs at 72x64" in run.stderr
    (path,) = [Path(line) for line in run.stdout.splitlines()]
    with Image.open(path) as image:
        assert image.size == (72, 64)
        params = image.text["parameters"]
    assert "Denoising strength: 0.5" in params and "Mask blur: 2" in params
    meta = read_metadata(path)
    assert meta.request is not None
    assert meta.request.start_image == str(files["start"]) and meta.request.strength == 0.5
    assert meta.request.mask == str(files["mask"]) and meta.request.mask_blur == 2
    assert meta.lineage["start_image"]["sha256"] == file_hash(files["start"])
    assert meta.lineage["mask"]["sha256"] == file_hash(files["mask"])
    # The mask travels inside the picture: reuse gets it back after the file is gone.
    restored = restore_mask(path, tmp_path / "masks")
    assert restored is not None
    assert np.array_equal(np.asarray(Image.open(restored)), np.asarray(Image.open(files["mask"])))


def test_outpainting_and_hires_on_the_demo_model(files: dict[str, Path], tmp_path: Path) -> None:
    run = _generate("", tmp_path / "out", tmp_path / "home", "--image", str(files["start"]), "--size", "64x64",
                    "--outpaint", "8,0,8,0", "--strength", "0.8", "--hires", "1.5", "--hires-strength", "0.5")
    assert run.returncode == 0, run.stderr
    (path,) = [Path(line) for line in run.stdout.splitlines()]
    with Image.open(path) as image:
        assert image.size == (96, 96)
        params = image.text["parameters"]
    assert "Hires upscale: 1.5" in params and "Hires upscaler: Lanczos" in params
    meta = read_metadata(path)
    assert meta.request is not None and meta.request.outpaint == (8, 0, 8, 0)
    assert meta.request.hires_scale == 1.5


def test_variations_from_the_command_line(tiny_sd_model: Path, tmp_path: Path) -> None:
    run = _generate(str(tiny_sd_model), tmp_path / "out", tmp_path / "home", "--size", "64x64",
                    "--variation-seed", "99", "--variation-strength", "0.25", "--batch", "2")
    assert run.returncode == 0, run.stderr
    paths = [Path(line) for line in run.stdout.splitlines()]
    seeds = []
    for path in paths:
        meta = read_metadata(path)
        assert meta.request is not None and meta.request.variation_strength == 0.25
        seeds.append(meta.request.variation_seed)
    assert seeds == [99, 100]


@pytest.mark.parametrize(("extra", "words"), [
    (["--strength", "1.5"], "Strength must be a number from 0 to 1, not 1.5."),
    (["--mask", "{black}"], "The mask is black everywhere, so nothing would change."),
    (["--mask", "{text}"], "The mask text.png is not a picture Studio can read"),
    (["--outpaint", "8,8"], "--outpaint takes LEFT,TOP,RIGHT,BOTTOM pixels"),
    (["--hires", "9"], "Hires scale must be a number from 1 to 4, not 9."),
])
def test_bad_picture_options_exit_2_and_write_nothing(
    tiny_sd_model: Path, files: dict[str, Path], tmp_path: Path, extra: list[str], words: str,
) -> None:
    extra = [e.format(**{k: str(v) for k, v in files.items()}) for e in extra]
    out = tmp_path / "out"
    run = _generate(str(tiny_sd_model), out, tmp_path / "home", "--image", str(files["start"]), *extra)
    assert run.returncode == 2, run.stderr
    assert words in run.stderr and "Traceback" not in run.stderr
    assert not out.exists()


def test_a_start_image_that_cannot_be_read_exits_2(tiny_sd_model: Path, files: dict[str, Path], tmp_path: Path) -> None:
    run = _generate(str(tiny_sd_model), tmp_path / "out", tmp_path / "home", "--image", str(files["text"]))
    assert run.returncode == 2 and "The start image text.png is not a picture" in run.stderr
    assert not (tmp_path / "out").exists()


def test_infotext_round_trip_of_every_image_setting() -> None:
    request = GenerationRequest("fox", seed=5, start_image="/pics/a.png", strength=0.4, mask="/pics/m.png",
                                mask_blur=6, variation_seed=17, variation_strength=0.3)
    meta = parse_infotext(format_infotext(request, "Studio 1"))
    assert meta.request is not None and not meta.problems
    assert meta.request.strength == 0.4 and meta.request.mask_blur == 6
    assert meta.request.variation_seed == 17 and meta.request.variation_strength == 0.3
    hires = GenerationRequest("fox", seed=5, hires_scale=2.0, hires_strength=0.35, hires_steps=12,
                              hires_upscaler="4x-UltraSharp")
    meta = parse_infotext(format_infotext(hires, "Studio 1"))
    assert meta.request is not None
    assert (meta.request.hires_scale, meta.request.hires_strength, meta.request.hires_steps,
            meta.request.hires_upscaler) == (2.0, 0.35, 12, "4x-UltraSharp")


def test_a1111_hires_and_variation_keys_are_read_and_bad_ones_noted() -> None:
    text = ("a castle\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, "
            "Denoising strength: 0.7, Hires upscale: 2, Hires steps: 10, Hires upscaler: R-ESRGAN 4x+, "
            "Variation seed: 42, Variation seed strength: 7")
    meta = parse_infotext(text)
    assert meta.request is not None
    assert meta.request.hires_strength == 0.7 and meta.request.strength == 0.75  # the hires pass's strength
    assert meta.request.hires_upscaler == "R-ESRGAN 4x+" and meta.request.variation_seed == 42
    assert meta.request.variation_strength == 0.0
    assert any("Variation strength must be a number from 0 to 1" in p for p in meta.problems)
    assert "Denoising strength" not in meta.extras
