"""The core stays free of Qt, and the library and config free of torch: checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
import {module}
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})
print(','.join(heavy))
"""


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("studio.engine", ("PySide6", "shiboken6")),
        ("studio.engine.run.engine", ("PySide6", "shiboken6")),
        ("studio.library", ("PySide6", "shiboken6", "torch", "diffusers")),
        ("studio.library.index", ("PySide6", "shiboken6", "torch", "diffusers")),
        ("studio.library.store", ("PySide6", "shiboken6", "torch", "diffusers")),
        ("studio.config", ("PySide6", "shiboken6", "torch", "diffusers")),
        ("studio.config.paths", ("PySide6", "shiboken6", "torch", "diffusers")),
        ("studio.engine.run.request", ("PySide6", "torch", "diffusers")),
        ("studio.engine.catalogue.registry", ("PySide6", "torch", "diffusers")),
    ],
)
def test_import_loads_no_forbidden_module(module: str, forbidden: tuple[str, ...]) -> None:
    code = CHECK.format(module=module, forbidden=forbidden)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"{module} loaded {result.stdout.strip()}"
