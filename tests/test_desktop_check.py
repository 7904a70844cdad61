"""The desktop check that runs before Qt: a missing system library is named, with the package
that installs it on Debian/Ubuntu, Fedora and Arch, and `studio` exits 1.

The unit tests hand the check a loader that refuses chosen names (the check takes the loader
as a parameter). The end-to-end test runs the real `studio` entry point in a subprocess whose
dynamic loader refuses one library: ctypes.CDLL, the call through which the check opens each
library, is wrapped there to raise OSError for that one name, as it does when the file is not
installed. Nothing in Studio knows about the test; a library cannot be uninstalled from a test,
and LD_LIBRARY_PATH cannot hide one that ldconfig knows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio import desktop_check
from studio.desktop_check import GUI_LIBRARIES, NO_SCREEN, XCB_LIBRARIES, check, qt_platform

X11 = {"DISPLAY": ":0"}


def refusing(*names: str):
    refused = set(names)
    return lambda soname: soname not in refused


def test_every_library_present_lets_the_window_open():
    report = check(X11, refusing(), "linux")
    assert report.ok and report.platform == "xcb" and report.missing == ()
    assert {lib.soname for lib in report.checked} >= {"libxcb-cursor.so.0", "libxkbcommon-x11.so.0", "libEGL.so.1"}


def test_a_missing_xcb_library_names_its_package_on_each_distribution():
    report = check(X11, refusing("libxcb-cursor.so.0", "libxcb-icccm.so.4"), "linux")
    assert not report.ok
    assert [lib.soname for lib in report.missing] == ["libxcb-cursor.so.0", "libxcb-icccm.so.4"]
    message = report.problem or ""
    assert "missing: libxcb-cursor.so.0" in message and "missing: libxcb-icccm.so.4" in message
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4" in message
    assert "sudo dnf install xcb-util-cursor xcb-util-wm" in message
    assert "sudo pacman -S xcb-util-cursor xcb-util-wm" in message
    assert "libxcb-randr" not in message  # only what is missing


def test_libraries_from_one_package_are_installed_once():
    shared = [lib.soname for lib in XCB_LIBRARIES if lib.fedora == "libxcb"]
    assert len(shared) > 2
    commands = desktop_check.install_commands([lib for lib in XCB_LIBRARIES if lib.soname in shared])
    assert commands[1].endswith("sudo dnf install libxcb")
    assert commands[2].endswith("sudo pacman -S libxcb")


def test_offscreen_needs_only_what_qt_gui_needs():
    report = check({"QT_QPA_PLATFORM": "offscreen"}, refusing("libxcb-cursor.so.0"), "linux")
    assert report.ok and report.platform == "offscreen"
    assert set(report.checked) == set(GUI_LIBRARIES)
    missing_gl = check({"QT_QPA_PLATFORM": "offscreen"}, refusing("libGL.so.1"), "linux")
    assert not missing_gl.ok and "sudo apt install libgl1" in (missing_gl.problem or "")


def test_no_screen_is_said_in_words():
    report = check({}, refusing(), "linux")
    assert report.problem == NO_SCREEN
    assert "QT_QPA_PLATFORM=offscreen" in NO_SCREEN and "studio generate" in NO_SCREEN


def test_which_platform_qt_will_pick():
    assert qt_platform({"QT_QPA_PLATFORM": "xcb;wayland"}, "linux") == "xcb"
    assert qt_platform({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"},
                       "linux") == "wayland"
    assert qt_platform({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux") == "xcb"
    assert qt_platform({}, "darwin") == "cocoa"
    assert check({}, refusing("libGL.so.1"), "darwin").ok  # Qt ships its own there


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the system libraries are Linux's")
def test_studio_exits_1_naming_a_library_the_loader_cannot_open(tmp_path: Path):
    launcher = textwrap.dedent(
        """
        import ctypes, sys

        real = ctypes.CDLL

        class RefusingLoader(real):
            def __init__(self, name, *args, **kwargs):
                if name == "libxcb-cursor.so.0":
                    raise OSError(f"{name}: cannot open shared object file: No such file or directory")
                super().__init__(name, *args, **kwargs)

        ctypes.CDLL = RefusingLoader
        from studio.cli import main
        sys.exit(main([]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env |= {"DISPLAY": ":97", "STUDIO_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", launcher], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "missing: libxcb-cursor.so.0" in done.stderr
    assert "sudo apt install libxcb-cursor0" in done.stderr
    assert "sudo dnf install xcb-util-cursor" in done.stderr
    assert "sudo pacman -S xcb-util-cursor" in done.stderr
    assert "Could not load the Qt platform plugin" not in done.stderr  # Qt was never asked
    assert not (tmp_path / "home").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY is X11's")
def test_studio_without_a_screen_says_so_and_exits_1(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY")}
    env["STUDIO_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-m", "studio"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "none was found" in done.stderr and "QT_QPA_PLATFORM=offscreen" in done.stderr
