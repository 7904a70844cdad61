"""`studio generate` with `<lora:NAME:WEIGHT>` in the prompt, in a subprocess, as a person runs it:
the LoRA from the models folder's loras/ changes the picture, the PNG says which file at which
weight, and a name that is not there is said in words with the folders looked in."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_cli_generate import _studio
from tests.tiny_loras import write_kohya_lora


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, tiny_sd_model: Path) -> Path:
    root = tmp_path_factory.mktemp("lora-home")
    write_kohya_lora(root / "models" / "loras" / "ink.safetensors", tiny_sd_model, seed=1, scale=0.3)
    return root


def _run(model: Path, home: Path, out: Path, prompt: str) -> tuple[int, str, list[Path]]:
    done = _studio("generate", "--prompt", prompt, "--seed", "7", "--steps", "3", "--size", "64x64",
                   "--model", str(model), "--out", str(out), home=home)
    return done.returncode, done.stderr, [Path(line) for line in done.stdout.splitlines()]


def _file_hash(path: Path) -> str:
    """The short hash AUTOMATIC1111 gives a safetensors LoRA: sha256 of what follows the header."""
    data = path.read_bytes()
    return hashlib.sha256(data[8 + int.from_bytes(data[:8], "little"):]).hexdigest()[:12]


def test_a_lora_tag_changes_the_picture_and_the_png_says_which_file(
    tiny_sd_model: Path, home: Path, tmp_path: Path
) -> None:
    code, err, tagged = _run(tiny_sd_model, home, tmp_path / "tagged", "a red circle <lora:ink:0.7>")
    assert code == 0, err
    code, err, plain = _run(tiny_sd_model, home, tmp_path / "plain", "a red circle")
    assert code == 0, err
    with Image.open(tagged[0]) as image:
        params = image.text["parameters"]
        inked = np.asarray(image.convert("RGB")).astype(np.int16)
    with Image.open(plain[0]) as image:
        base = np.asarray(image.convert("RGB")).astype(np.int16)
    assert params.startswith("a red circle <lora:ink:0.7>\n")
    assert f'Lora hashes: "ink: {_file_hash(home / "models" / "loras" / "ink.safetensors")}"' in params
    assert np.abs(inked - base).max() > 10


def test_a_missing_lora_exits_1_naming_it_and_the_folder(tiny_sd_model: Path, home: Path, tmp_path: Path) -> None:
    code, err, printed = _run(tiny_sd_model, home, tmp_path / "out", "a red circle <lora:nowhere:0.7>")
    assert code == 1 and printed == []
    assert "“nowhere”" in err and str(home / "models" / "loras") in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_lora_in_a_folder_added_in_settings_runs_from_the_command_line(
    tiny_sd_model: Path, tmp_path: Path
) -> None:
    """`studio loras` lists the folders added in Settings; `studio generate` must find their files too."""
    import json

    home = tmp_path / "home"
    extra = tmp_path / "my loras"
    write_kohya_lora(extra / "glow.safetensors", tiny_sd_model, seed=2, scale=0.3)
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps({"lora_folders": [str(extra)]}))
    code, err, printed = _run(tiny_sd_model, home, tmp_path / "out", "a red circle <lora:glow:1>")
    assert code == 0, err
    with Image.open(printed[0]) as image:
        assert f'Lora hashes: "glow: {_file_hash(extra / "glow.safetensors")}"' in image.text["parameters"]
    code, err, _ = _run(tiny_sd_model, home, tmp_path / "out", "a red circle <lora:nowhere:1>")
    assert code == 1 and str(extra) in err and str(home / "models" / "loras") in err
