"""X/Y/Z grids: axis parsing with A1111 ranges, the cells' requests, the labeled image, `studio grid`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from studio.engine.grid.axes import AxisError, parse_axis
from studio.engine.grid.cells import plan_grid
from studio.engine.run.request import GenerationRequest
from studio.library.grid_image import GRID_CHUNK, compose_grid


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("steps=1,3,5", (1, 3, 5)),
        ("steps=1-5", (1, 2, 3, 4, 5)),
        ("seed=1-9 (+2)", (1, 3, 5, 7, 9)),
        ("seed=10-4 (-3)", (10, 7, 4)),
        ("steps=1-10 [5]", (1, 3, 5, 7, 10)),
        ("guidance=1-2 [3]", (1.0, 1.5, 2.0)),
        ("cfg=1.5-3 (+0.5)", (1.5, 2.0, 2.5, 3.0)),
        ("guidance=-1, 2", (-1.0, 2.0)),
        ("size=64x64, 128x96", ((64, 64), (128, 96))),
        ("sampler=euler a,DDIM", ("Euler a", "DDIM")),
        ('prompt=red,"blue, green"', ("red", "blue, green")),
    ],
)
def test_axis_values(text: str, values: tuple[object, ...]) -> None:
    assert parse_axis(text).values == values


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("guidance", "An axis must look like guidance=1,3,5, not 'guidance'."),
        ("colour=1", "Unknown axis 'colour'. Choose one of: seed, steps, guidance, sampler, size, model, "
         "prompt, lora, lora:NAME."),
        ("steps=", "The steps axis has no values."),
        ("steps=ten", "The steps axis takes numbers, not 'ten'."),
        ("steps=2.5", "The steps axis takes whole numbers, not 2.5."),
        ("guidance=nan", "The guidance axis takes numbers, not 'nan'."),
        ("seed=1-9 (+0)", "The range '1-9 (+0)' never reaches 9 with a step of +0."),
        ("seed=1-9 (-1)", "The range '1-9 (-1)' never reaches 9 with a step of -1."),
        ("seed=1-1000", "The range '1-1000' has 1000 values; the most is 64."),
        ("steps=1-9 [0]", "The range '1-9 [0]' asks for 0 values; choose 1 to 64."),
        ("size=big", "A size must look like 512x768, not 'big'."),
        ("sampler=Nope", "Unknown sampler 'Nope'."),
        ("prompt=cat", "prompt=S/R needs the text to search for and at least one replacement"),
    ],
)
def test_bad_axes_say_why(text: str, message: str) -> None:
    with pytest.raises(AxisError) as raised:
        parse_axis(text)
    assert str(raised.value).startswith(message)


def test_cells_change_only_their_axes_and_check_the_prompt() -> None:
    base = GenerationRequest(prompt="a red circle <lora:ink:0.5>", steps=4, seed=None)
    plan = plan_grid(base, [parse_axis("prompt=red,blue"), parse_axis("lora=0.25,1")])
    assert [(c.x, c.y) for c in plan.cells] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    assert [c.request.prompt for c in plan.cells] == [
        "a red circle <lora:ink:0.25>", "a blue circle <lora:ink:0.25>",
        "a red circle <lora:ink:1>", "a blue circle <lora:ink:1>",
    ]
    assert len({c.request.seed for c in plan.cells}) == 1 and plan.cells[0].request.seed is not None
    with pytest.raises(AxisError, match="'green' is not in the prompt"):
        plan_grid(base, [parse_axis("prompt=green,blue")])
    with pytest.raises(AxisError, match="has none"):
        plan_grid(GenerationRequest(prompt="x"), [parse_axis("lora=0.5,1")])
    with pytest.raises(AxisError, match="Two axes both change the seed"):
        plan_grid(base, [parse_axis("seed=1,2"), parse_axis("seed=3")])


def test_grid_image_places_cells_under_their_labels() -> None:
    colors = [[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (255, 255, 0)]]
    cells: list[list[Image.Image | None]] = [[Image.new("RGB", (64, 64), c) for c in row] for row in colors]
    long_label = "a very long prompt that cannot fit on one line above a small cell"
    grid = compose_grid(cells, ["CFG: 1", long_label], ["Seed: 1", "Seed: 2"])
    width, height = grid.size
    # the bottom-right cell is the last one pasted: its centre is yellow, the one left of it blue
    assert grid.getpixel((width - 4 - 32, height - 4 - 32)) == (255, 255, 0)
    assert grid.getpixel((width - 4 - 64 - 4 - 32, height - 4 - 32)) == (0, 0, 255)
    # the wrapped label makes the header taller than one line, and it holds dark ink
    header = grid.crop((width - 68, 0, width, height - 2 * 68))
    assert header.height > 40 and header.convert("L").getextrema()[0] < 100


def test_studio_grid_writes_the_grid_and_each_cell(tmp_path: Path) -> None:
    env = os.environ | {"STUDIO_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "studio", "grid", "--prompt", "a yellow star on a purple background",
         "--x", "guidance=1,3", "--y", "seed=1,2", "--steps", "3", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert len(paths) == 5
    seen = []
    for cell in paths[:4]:
        with Image.open(cell) as image:
            request = json.loads(image.text["studio"])["request"]
            seen.append((request["guidance"], request["seed"]))
            assert image.size == (64, 64)
    assert seen == [(1.0, 1), (3.0, 1), (1.0, 2), (3.0, 2)]
    with Image.open(paths[4]) as grid:
        grid.load()
        assert grid.width > 2 * 64 and grid.height > 2 * 64
    raw = paths[4].read_bytes()
    start = raw.index(GRID_CHUNK) + 4
    length = int.from_bytes(raw[start - 8:start - 4], "big")
    described = json.loads(raw[start:start + length])
    assert described["axes"]["x"]["labels"] == ["CFG: 1", "CFG: 3"]
    assert described["cells"] == [p.name for p in paths[:4]]


def test_studio_grid_refuses_a_bad_axis_in_one_line(tmp_path: Path) -> None:
    env = os.environ | {"STUDIO_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "studio", "grid", "--prompt", "x", "--x", "steps=1-9 [99]",
         "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == "studio grid: error: The range '1-9 [99]' asks for 99 values; choose 1 to 64.\n"
    assert not (tmp_path / "out").exists()
