"""The LoRA-weight axis of X/Y/Z grids: `lora:NAME=0,0.5,1` parsed, each cell's prompt holding
that LoRA's tag at its weight, and `studio grid` with a real tiny LoRA writing cells whose
infotexts carry the weights and the file's hash."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.engine.grid.axes import AxisError, parse_axis, with_lora_weight
from studio.engine.grid.cells import plan_grid
from studio.engine.loras.hashes import addnet_sha256, short_hash
from studio.engine.run.request import GenerationRequest
from tests.tiny_loras import write_kohya_lora


def test_a_named_lora_axis_parses_with_its_name() -> None:
    axis = parse_axis("lora:ink=0,0.5,1")
    assert (axis.kind, axis.target, axis.values) == ("lora", "ink", (0.0, 0.5, 1.0))
    assert axis.label(0.5) == "ink: 0.5"
    spread = parse_axis("lora-weight: styles/ink = 0-1 [3]")
    assert (spread.target, spread.values) == ("styles/ink", (0.0, 0.5, 1.0))
    assert parse_axis("lora=0.5").target == ""


@pytest.mark.parametrize(("text", "message"), [
    ("lora:=0,1", "lora:NAME needs the LoRA's name"),
    ("lora:a:b=0,1", "lora:NAME needs the LoRA's name"),
    ("seed:ink=1", "Unknown axis 'seed:ink'"),
    ("lora:ink=lots", "The lora axis takes numbers, not 'lots'."),
])
def test_bad_named_lora_axes_say_why(text: str, message: str) -> None:
    with pytest.raises(AxisError, match=message):
        parse_axis(text)


@pytest.mark.parametrize(("prompt", "weight", "name", "expected"), [
    ("a cat <lora:ink:0.7>", 0.5, "ink", "a cat <lora:ink:0.5>"),
    ("a cat <lora:glow:1> <LoRA:Ink:0.7:0.2>", 0, "ink", "a cat <lora:glow:1> <LoRA:Ink:0:0.2>"),
    ("a cat", 1.0, "ink", "a cat <lora:ink:1>"),
    ("a cat <lora:glow:1>", 0.25, "", "a cat <lora:glow:0.25>"),
    ("a cat", 0.25, "", "a cat"),
])
def test_with_lora_weight(prompt: str, weight: float, name: str, expected: str) -> None:
    assert with_lora_weight(prompt, weight, name) == expected


def test_cells_hold_the_named_loras_tag_at_each_weight() -> None:
    base = GenerationRequest(prompt="a red circle <lora:glow:0.8>", seed=3)
    plan = plan_grid(base, [parse_axis("lora:ink=0,0.5"), parse_axis("lora:glow=1,0.2")])
    assert [c.request.prompt for c in plan.cells] == [
        "a red circle <lora:glow:1> <lora:ink:0>", "a red circle <lora:glow:1> <lora:ink:0.5>",
        "a red circle <lora:glow:0.2> <lora:ink:0>", "a red circle <lora:glow:0.2> <lora:ink:0.5>",
    ]
    assert plan.labels(0) == ["ink: 0", "ink: 0.5"]
    with pytest.raises(AxisError, match="Two axes both change the weight of the LoRA “ink”"):
        plan_grid(base, [parse_axis("lora:ink=0,1"), parse_axis("lora:INK=0.5")])
    with pytest.raises(AxisError, match="name the LoRA"):
        plan_grid(base, [parse_axis("lora=0,1"), parse_axis("lora:ink=0.5")])


def _grid(home: Path, out: Path, model: Path, *axes: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "studio", "grid", "--prompt", "a red circle", *axes, "--seed", "7",
         "--steps", "3", "--size", "64x64", "--model", str(model), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=300,
    )


def test_studio_grid_weighs_a_real_lora_per_cell(tiny_sd_model: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ink = write_kohya_lora(home / "models" / "loras" / "ink.safetensors", tiny_sd_model, seed=1, scale=0.3)
    done = _grid(home, tmp_path / "out", tiny_sd_model, "--x", "lora:ink=0,1")
    assert done.returncode == 0, done.stderr
    cells = [Path(line) for line in done.stdout.splitlines()][:2]
    texts, pictures = [], []
    for cell in cells:
        with Image.open(cell) as image:
            texts.append(image.text["parameters"])
            pictures.append(np.asarray(image.convert("RGB")).astype(np.int16))
    assert texts[0].startswith("a red circle <lora:ink:0>\n")
    assert texts[1].startswith("a red circle <lora:ink:1>\n")
    hashes = f'Lora hashes: "ink: {short_hash(addnet_sha256(ink))}"'
    assert all(hashes in text for text in texts)
    assert np.abs(pictures[1] - pictures[0]).max() > 10


def test_studio_grid_names_a_missing_lora_before_loading(tiny_sd_model: Path, tmp_path: Path) -> None:
    done = _grid(tmp_path / "home", tmp_path / "out", tiny_sd_model, "--x", "lora:nowhere=0,1")
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert "“nowhere”" in done.stderr and str(tmp_path / "home" / "models" / "loras") in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
