"""What the window needs from the system, checked before Qt is asked for a platform.

Qt's X11 platform plugin links a dozen system libraries that minimal Linux installs lack;
without one, Qt prints only "Could not load the Qt platform plugin" and aborts the process.
Studio loads each library by its exact file name first (the same lookup the plugin's own
loading does), so it can say which package to install on Debian/Ubuntu, Fedora and Arch.

Standard library only: this runs before PySide6 is imported.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Loader = Callable[[str], bool]  # True when the dynamic loader can open this file name


@dataclass(frozen=True)
class SystemLibrary:
    """A shared library by its file name, and the package that ships it on each distribution."""

    soname: str
    debian: str
    fedora: str
    arch: str


def _lib(soname: str, debian: str, fedora: str, arch: str) -> SystemLibrary:
    return SystemLibrary(soname, debian, fedora, arch)


# Needed by Qt's GUI module itself, whatever the platform (offscreen included).
GUI_LIBRARIES: tuple[SystemLibrary, ...] = (
    _lib("libEGL.so.1", "libegl1", "libglvnd-egl", "libglvnd"),
    _lib("libGL.so.1", "libgl1", "libglvnd-glx", "libglvnd"),
    _lib("libfontconfig.so.1", "libfontconfig1", "fontconfig", "fontconfig"),
    _lib("libfreetype.so.6", "libfreetype6", "freetype", "freetype2"),
    _lib("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    _lib("libX11.so.6", "libx11-6", "libX11", "libx11"),
    _lib("libglib-2.0.so.0", "libglib2.0-0", "glib2", "glib2"),
    _lib("libdbus-1.so.3", "libdbus-1-3", "dbus-libs", "dbus"),
)

# Linked by Qt 6's xcb platform plugin (libqxcb.so and libQt6XcbQpa.so). Qt 6 no longer
# uses Xinerama, so libxcb-xinerama is not among them.
XCB_LIBRARIES: tuple[SystemLibrary, ...] = (
    _lib("libxcb.so.1", "libxcb1", "libxcb", "libxcb"),
    _lib("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb", "libx11"),
    _lib("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    _lib("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    _lib("libxcb-image.so.0", "libxcb-image0", "xcb-util-image", "xcb-util-image"),
    _lib("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    _lib("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    _lib("libxcb-util.so.1", "libxcb-util1", "xcb-util", "xcb-util"),
    _lib("libxcb-randr.so.0", "libxcb-randr0", "libxcb", "libxcb"),
    _lib("libxcb-render.so.0", "libxcb-render0", "libxcb", "libxcb"),
    _lib("libxcb-shape.so.0", "libxcb-shape0", "libxcb", "libxcb"),
    _lib("libxcb-shm.so.0", "libxcb-shm0", "libxcb", "libxcb"),
    _lib("libxcb-sync.so.1", "libxcb-sync1", "libxcb", "libxcb"),
    _lib("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb", "libxcb"),
    _lib("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb", "libxcb"),
    _lib("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
)


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds and opens `soname` (LD_LIBRARY_PATH and ldconfig, as
    when Qt loads its plugin)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class DesktopReport:
    """What the window would run on: Qt's platform, the libraries checked, the missing ones,
    and a problem that stops the window from opening (None when it can open)."""

    platform: str
    checked: tuple[SystemLibrary, ...] = ()
    missing: tuple[SystemLibrary, ...] = ()
    problem: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.problem is None


def qt_platform(environ: Mapping[str, str], system: str = sys.platform) -> str:
    """The platform plugin Qt will pick: QT_QPA_PLATFORM's first choice, else what the session offers."""
    chosen = environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if chosen:
        return chosen
    if system == "darwin":
        return "cocoa"
    if system.startswith("win"):
        return "windows"
    wayland, x11 = bool(environ.get("WAYLAND_DISPLAY")), bool(environ.get("DISPLAY"))
    if wayland and (environ.get("XDG_SESSION_TYPE") == "wayland" or not x11):
        return "wayland"
    return "xcb" if x11 else ""  # "": no screen at all


def check(
    environ: Mapping[str, str] | None = None,
    loader: Loader = can_load,
    system: str = sys.platform,
) -> DesktopReport:
    """Check that the window can open here; Linux only (elsewhere Qt ships what it needs)."""
    env = os.environ if environ is None else environ
    platform = qt_platform(env, system)
    if not system.startswith("linux"):
        return DesktopReport(platform)
    if not platform:
        return DesktopReport(platform, problem=NO_SCREEN)
    needed = GUI_LIBRARIES + (XCB_LIBRARIES if platform == "xcb" else ())
    missing = tuple(lib for lib in needed if not loader(lib.soname))
    problem = missing_message(missing, platform) if missing else None
    return DesktopReport(platform, needed, missing, problem)


NO_SCREEN = (
    "Studio needs a screen to open its window, and none was found: neither DISPLAY (X11) nor "
    "WAYLAND_DISPLAY (Wayland) is set. On a machine without a screen, use `studio generate ...` "
    "to make images from the command line, or run with QT_QPA_PLATFORM=offscreen "
    "(e.g. `QT_QPA_PLATFORM=offscreen studio --screenshot out.png`)."
)


def install_commands(missing: Iterable[SystemLibrary]) -> list[str]:
    """The command that installs these libraries on Debian/Ubuntu, Fedora and Arch."""
    libs = list(missing)

    def packages(attribute: str) -> str:
        return " ".join(dict.fromkeys(getattr(lib, attribute) for lib in libs))

    return [
        f"Debian/Ubuntu: sudo apt install {packages('debian')}",
        f"Fedora:        sudo dnf install {packages('fedora')}",
        f"Arch:          sudo pacman -S {packages('arch')}",
    ]


def missing_message(missing: Iterable[SystemLibrary], platform: str) -> str:
    libs = list(missing)
    where = "Qt's X11 platform (xcb)" if platform == "xcb" else f"Qt (platform {platform!r})"
    lines = [f"Studio cannot open its window: {where} needs system libraries that are missing."]
    lines += [f"  missing: {lib.soname}" for lib in libs]
    lines.append("Install them with:")
    lines += [f"  {command}" for command in install_commands(libs)]
    lines.append("Then start Studio again. Without a window, `studio generate ...` works as it is.")
    return "\n".join(lines)
