"""`studio doctor` through the real CLI: torch and its build, the CPU device, the folders, the
demo model, a missing extra with its fix, and exit 1 when a folder cannot be written."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from studio.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("STUDIO_HOME", str(root))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    return root


def test_doctor_says_what_studio_runs_on(home: Path, capsys: pytest.CaptureFixture[str]):
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
    assert f"torch {torch.__version__} · build: {build}" in out
    assert "  cpu: CPU (" in out and "GiB total" in out
    assert "Qt platform: offscreen" in out
    for name in ("config", "data", "cache", "gallery", "models"):
        assert f"  {name:<8} {home / name} (writable" in out
    assert "studio-shapes: Shapes demo (built-in demo)" in out
    if importlib.util.find_spec("spandrel") is None:
        assert 'spandrel   upscale model files (ESRGAN, SwinIR...): missing · fix: pip install ' \
               '"studio-diffusion[upscalers]"' in out
    else:
        assert "spandrel   upscale model files (ESRGAN, SwinIR...): present" in out
    assert out.rstrip().endswith("Studio can generate here.")
    assert not home.exists()  # doctor looks, and creates nothing


def test_doctor_json_has_every_part(home: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["torch"]["version"] == torch.__version__
    assert any(d["device"] == "cpu" and d["total_bytes"] for d in report["devices"])
    assert [f["name"] for f in report["folders"]] == ["config", "data", "cache", "gallery", "models"]
    assert all(f["writable"] and f["free_bytes"] > 0 for f in report["folders"])
    assert "studio-shapes" in [m["id"] for m in report["models"]]
    extras = {e["module"]: e for e in report["extras"]}
    assert set(extras) == {"peft", "compel", "spandrel", "ray", "websockets"}
    assert all((e["fix"] is None) == e["present"] for e in extras.values())
    assert report["problems"] == []


def test_a_folder_that_cannot_be_written_fails_with_a_fix(home: Path, capsys: pytest.CaptureFixture[str]):
    home.mkdir()
    (home / "gallery").write_text("a file where the gallery folder goes")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert f"  gallery  {home / 'gallery'} (NOT writable" in out
    assert f"the gallery folder {home / 'gallery'} cannot be written" in out
    assert "fix: make it writable" in out
    assert out.rstrip().endswith("Studio cannot generate here until the problems above are fixed.")
