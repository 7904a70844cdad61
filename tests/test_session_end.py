"""SIGTERM (what a logout or `kill` sends) closes the real app cleanly: exit code 0, and the
window's geometry and the controls are written to the settings file on the way out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.config.paths import StudioPaths

START_TIMEOUT_S = 120.0  # shared CPUs are slow to import Qt and open the window
POLL_S = 0.05


@pytest.mark.skipif(sys.platform.startswith("win"), reason="SIGTERM is POSIX's")
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_saves_the_state_and_exits_0(tmp_path: Path, number: int):
    paths = StudioPaths.under(tmp_path / "home")
    env = os.environ | {"STUDIO_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen",
                        "HF_HUB_OFFLINE": "1"}
    with subprocess.Popen([sys.executable, "-m", "studio"], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True) as child:
        # the gallery's index is created from the event loop, once the window shows: the app is up
        deadline = time.monotonic() + START_TIMEOUT_S
        while not paths.index_file.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(POLL_S)
        assert child.poll() is None, "the app stopped before it was up"
        assert not paths.settings_file.exists()  # nothing changed yet, so nothing written
        child.send_signal(number)
        try:
            _out, errors = child.communicate(timeout=START_TIMEOUT_S)
        finally:
            child.kill()
    assert child.returncode == 0, errors
    settings = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    assert settings["window"]["geometry"], "the window's geometry was not saved"
    assert settings["last"]["model"] == "studio-shapes"
    assert "Traceback" not in errors
