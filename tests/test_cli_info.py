"""`studio info`: what each file says, as text or JSON; exit 1 when a file is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from studio.cli import main
from studio.engine.run.request import GenerationRequest
from studio.library.store import save_image
from tests import library_samples as samples

INTEROP_FILES = sorted(samples.INTEROP.glob("*.png"))


def test_reads_the_interop_files_and_our_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ours = save_image(
        Image.new("RGB", (8, 8)),
        GenerationRequest("a tiny robot", "rust", seed=77, scheduler="Euler a", model="demo"),
        tmp_path,
    )
    assert main(["info", *map(str, INTEROP_FILES), str(ours), "--json"]) == 0
    found = {Path(item["path"]).name: item for item in json.loads(capsys.readouterr().out)}
    assert found["a1111_parameters.png"]["prompt"] == "photo of a duck"
    assert found["comfyui_prompt_workflow.png"]["source"] == "ComfyUI"
    assert found["invokeai_metadata.png"]["seed"] == 3293022630
    mine = found[ours.name]
    assert (mine["source"], mine["prompt"], mine["negative_prompt"]) == ("Studio", "a tiny robot", "rust")
    assert (mine["seed"], mine["sampler"], mine["model"]) == (77, "Euler a", "demo")
    assert mine["request"]["scheduler"] == "Euler a"


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", str(samples.INTEROP / "a1111_parameters.png")]) == 0
    out = capsys.readouterr().out
    for line in (
        "Source: AUTOMATIC1111",
        "Prompt: photo of a duck",
        "Negative prompt: monochrome",
        "Seed: 235284042",
        "Steps: 15",
        "Guidance: 5",
        "Size: 512x400",
        "Sampler: UniPC",
        "Model: realistic_realisticVisionV20_v20",
    ):
        assert f"  {line}\n" in out


def test_exit_1_when_a_file_cannot_be_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert main(["info", str(samples.INTEROP / "a1111_parameters.png"), str(empty)]) == 1
    captured = capsys.readouterr()
    assert "photo of a duck" in captured.out
    assert "empty.png: could not be read: The file is empty." in captured.err
    assert main(["info", "--json", str(empty)]) == 1
    assert json.loads(capsys.readouterr().out) == [{"path": str(empty), "error": "The file is empty."}]


def test_python_dash_m_studio_info() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "studio", "info", str(samples.INTEROP / "invokeai_metadata.png")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Source: InvokeAI" in result.stdout and "Model: juggernautXL" in result.stdout
