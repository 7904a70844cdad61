"""An installed wheel carries the resources and finds the built-in demo model, as a checkout does."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True, capture_output=True, timeout=600,
    )
    (built,) = out.glob("*.whl")
    return built


def test_wheel_carries_the_demo_model_and_configs(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "studio/resources/models/studio-shapes/model_index.json" in names
    assert "studio/resources/models/studio-shapes/unet/diffusion_pytorch_model.safetensors" in names
    assert "studio/resources/configs/clip-tokenizer/vocab.json" in names
    assert "studio/resources/style/dark.qss" in names


def test_installed_wheel_finds_its_demo_model(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, timeout=600,
    )
    code = (
        "from studio.config.paths import StudioPaths, bundled_models_dir;"
        "from studio.engine.catalogue.registry import ModelRegistry;"
        f"r = ModelRegistry(StudioPaths.under(__import__('pathlib').Path({str(tmp_path / 'home')!r})));"
        "print(bundled_models_dir()); print(r.default().id)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, cwd=tmp_path,
    )
    models_dir, default = result.stdout.split()
    assert Path(models_dir).is_relative_to(target)
    assert default == "studio-shapes"
