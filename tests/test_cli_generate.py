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
    assert "needs a screen" in result.stderr


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


def _studio_bytes(args: list[str | bytes], home: Path, **env_extra: str) -> subprocess.CompletedProcess[bytes]:
    env = os.environ | {"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"} | env_extra
    argv = [os.fsencode(a) if isinstance(a, str) else a for a in (sys.executable, "-m", "studio", *args)]
    return subprocess.run(argv, capture_output=True, env=env, timeout=300)


def test_a_pickle_named_like_the_refusal_is_not_mistaken_for_one(tmp_path: Path) -> None:
    """The consent hint follows the failure's type, not words in the file name or traceback."""
    import pickle

    trap = tmp_path / "PickleRefused.ckpt"
    trap.write_bytes(pickle.dumps({"state_dict": {"x": Path("unused")}}))
    result = _studio("generate", "--prompt", "x", "--seed", "1", "--steps", "2", "--size", "32x32",
                     "--model", str(trap), "--out", str(tmp_path / "out"), "--allow-pickle",
                     home=tmp_path / "home")
    assert result.returncode == 1
    assert "could not be read as plain weights" in result.stderr
    assert "--allow-pickle" not in result.stderr  # it was passed; asking again would mislead
    assert not (tmp_path / "out").exists()


def test_the_cli_reads_the_cause_of_a_failure_not_its_text() -> None:
    source = (Path(__file__).parents[1] / "studio" / "commands" / "generate.py").read_text()
    assert "PickleRefused" not in source
    assert "isinstance(outcome.cause, PickleNeedsConsent)" in source


def test_a_folder_name_that_is_not_utf8_is_printed_byte_for_byte(tiny_sd_model: Path, tmp_path: Path) -> None:
    out = os.fsencode(tmp_path) + b"/caf\xe9"
    result = _studio_bytes(["generate", "--prompt", "x", "--seed", "1", "--steps", "2", "--size", "32x32",
                            "--model", str(tiny_sd_model), "--out", out], tmp_path / "home",
                           # As in a en_US.UTF-8 locale: stdout refuses undecodable names.
                           PYTHONIOENCODING="utf-8:strict")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    printed = result.stdout.rstrip(b"\n")
    assert printed.startswith(out + b"/") and os.path.isfile(printed)


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, check=False)
    return done.returncode == 0


def _unmount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True, check=False)


@pytest.fixture
def read_only_folder(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A folder nobody can write in: chmod for a normal account, a read-only mount for root."""
    folder = tmp_path / "locked"
    if os.geteuid() != 0:
        folder.mkdir()
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not _mount_tmpfs(folder, "ro,size=64k"):
        pytest.skip("running as root without permission to mount a read-only folder")
    yield folder
    _unmount(folder)


@pytest.mark.parametrize("below", ["", "images"])
def test_an_out_folder_that_cannot_be_written_is_refused_before_the_run(
    tiny_sd_model: Path, tmp_path: Path, read_only_folder: Path, below: str
) -> None:
    out = read_only_folder / below if below else read_only_folder
    result = _generate(tiny_sd_model, out, tmp_path / "home")
    assert result.returncode == 2
    assert "cannot be written" in result.stderr and str(read_only_folder) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stdout == "" and list(read_only_folder.iterdir()) == []
    assert not (tmp_path / "home" / "cache" / "unsaved images").exists()


def _saved_elsewhere(stdout: str, stderr: str, home: Path, count: int) -> list[Path]:
    paths = [Path(line) for line in stdout.splitlines()]
    assert len(paths) == count
    fallback = home / "cache" / "unsaved images"
    assert all(p.parent == fallback and p.is_file() for p in paths)
    for path in paths:
        with Image.open(path) as image:
            assert image.size == (64, 64) and "Seed: " in image.text["parameters"]
    assert "not enough space on the disk" in stderr and f"saved to {fallback} instead" in stderr
    return paths


def test_a_full_disk_after_the_run_keeps_the_images_in_a_fallback_folder(
    tiny_sd_model: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "small-disk"
    if not _mount_tmpfs(disk, "size=64k"):
        pytest.skip("no permission to mount a small disk here")
    try:
        with (disk / "filler").open("wb", buffering=0) as filler:  # no room left for a PNG
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError:
                pass
        result = _generate(tiny_sd_model, disk / "images", tmp_path / "home", "--batch", "2")
        files_left = sorted(p.name for p in (disk / "images").iterdir()) if (disk / "images").exists() else []
    finally:
        _unmount(disk)
    assert result.returncode == 1
    said = [line for line in result.stderr.splitlines() if line.startswith("studio")]  # not the bar
    assert "Traceback" not in result.stderr and len(said) == 1
    _saved_elsewhere(result.stdout, result.stderr, tmp_path / "home", 2)
    assert files_left == []  # no half-written file or temporary left on the full disk


def test_enospc_while_saving_in_process_keeps_the_images(
    tiny_sd_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same promise where no small disk can be mounted: os.write fails for --out only."""
    import errno

    from studio.cli import main

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to tell which folder a write goes to")
    out = tmp_path / "out"
    real_write = os.write

    def write_unless_out(fd: int, data: bytes) -> int:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(out)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(os, "write", write_unless_out)
    code = main(["generate", "--prompt", "a red circle", "--seed", "7", "--steps", "2", "--size", "64x64",
                 "--model", str(tiny_sd_model), "--out", str(out), "--batch", "2"])
    monkeypatch.setattr(os, "write", real_write)
    captured = capsys.readouterr()
    assert code == 1
    _saved_elsewhere(captured.out, captured.err, tmp_path / "home", 2)
    assert [p for p in out.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("defaults", [[1, 2], "fast", {"guidance": "strong"}])
def test_a_models_own_defaults_of_the_wrong_shape_never_give_a_traceback(
    tiny_sd_model: Path, tmp_path: Path, defaults: object
) -> None:
    import json
    import shutil

    model = Path(shutil.copytree(tiny_sd_model, tmp_path / "model"))
    (model / "studio.json").write_text(json.dumps({"name": "odd", "defaults": defaults}))
    result = _generate(model, tmp_path / "out", tmp_path / "home", "--steps", "2", "--size", "32x32")
    # defaults that are not a table of plain values are ignored: the model runs on its family's
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 1
