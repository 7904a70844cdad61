"""`studio doctor`: what Studio will run on here, and what is missing, each with a fix.

torch and its build (CPU, CUDA, ROCm, MPS), the devices and their memory, the Qt platform and
its system libraries, Studio's folders (writable? room left?), the models found, and the
optional extras. Exit 0 when Studio can generate here, 1 when something it needs is missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.config.paths import StudioPaths

PACKAGE = "studio-diffusion"
GIB = 1024**3


@dataclass(frozen=True)
class Extra:
    """A package Studio uses for one feature, and how to get it."""

    module: str
    feature: str
    fix: str
    required: bool = False


EXTRAS = (
    Extra("peft", "LoRAs in the prompt", "pip install peft", required=True),
    Extra("compel", "prompt weighting and long prompts", "pip install compel", required=True),
    Extra("spandrel", "upscale model files (ESRGAN, SwinIR...)",
          f'pip install "{PACKAGE}[upscalers]" and the torchvision built for your torch'),
    Extra("ray", "`studio serve` (the engine as a Ray Serve application)", f'pip install "{PACKAGE}[server]"'),
    Extra("websockets", "the desktop's client of a `studio serve` engine", f'pip install "{PACKAGE}[server]"'),
)


@dataclass
class Report:
    """What doctor found; `problems` block generating, `warnings` only some features."""

    torch: dict[str, Any] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    desktop: dict[str, Any] = field(default_factory=dict)
    folders: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    extras: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def problem(self, what: str, fix: str) -> None:
        self.problems.append({"what": what, "fix": fix})

    def warning(self, what: str, fix: str) -> None:
        self.warnings.append({"what": what, "fix": fix})


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("doctor", help="show what Studio runs on here and what is missing")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    report = examine(StudioPaths.default())
    if args.json:
        print(json.dumps(asdict(report), indent=2, ensure_ascii=False))
    else:
        print(as_text(report))
    return 1 if report.problems else 0


def examine(paths: StudioPaths) -> Report:
    report = Report()
    _torch(report)
    _desktop(report)
    _folders(report, paths)
    _models(report, paths)
    _extras(report)
    return report


# -- each part ---------------------------------------------------------------------------


def _torch(report: Report) -> None:
    try:
        import torch
    except Exception as error:  # not installed, or a build that cannot load here
        report.torch = {"version": None, "error": f"{type(error).__name__}: {error}"}
        report.problem("torch cannot be imported", "pip install torch (see pytorch.org for the build for your GPU)")
        report.devices.append(_cpu_device())
        return
    cuda, hip = torch.version.cuda, getattr(torch.version, "hip", None)
    mps = getattr(torch.backends, "mps", None)
    mps_available = bool(mps is not None and mps.is_available())
    build = f"CUDA {cuda}" if cuda else f"ROCm {hip}" if hip else "CPU"
    report.torch = {"version": torch.__version__, "build": build, "cuda": cuda, "rocm": hip,
                    "cuda_available": bool(torch.cuda.is_available()), "mps_available": mps_available}
    if (cuda or hip) and torch.cuda.is_available():
        for number in range(torch.cuda.device_count()):
            free, total = torch.cuda.mem_get_info(number)
            report.devices.append({"device": f"cuda:{number}", "name": torch.cuda.get_device_name(number),
                                   "total_bytes": int(total), "free_bytes": int(free)})
    elif cuda or hip:
        report.warning(f"torch is built for {build} but sees no GPU",
                       "check the GPU driver (nvidia-smi), or ignore this to run on the CPU")
    if mps_available:
        report.devices.append({"device": "mps", "name": "Apple GPU", "total_bytes": None, "free_bytes": None})
    report.devices.append(_cpu_device())
    if build == "CPU" and not mps_available:
        report.warning("torch is a CPU build: runs are slow on real models",
                       "for an NVIDIA GPU: pip install torch --index-url https://download.pytorch.org/whl/cu128")


def _cpu_device() -> dict[str, Any]:
    total = free = None
    if hasattr(os, "sysconf"):
        try:
            page = os.sysconf("SC_PAGE_SIZE")
            total = os.sysconf("SC_PHYS_PAGES") * page
            free = os.sysconf("SC_AVPHYS_PAGES") * page
        except (ValueError, OSError):
            pass
    return {"device": "cpu", "name": f"CPU ({os.cpu_count() or '?'} cores)", "total_bytes": total,
            "free_bytes": free}


def _desktop(report: Report) -> None:
    from studio import desktop_check

    found = desktop_check.check()
    report.desktop = {"qt_platform": found.platform or None,
                      "libraries_checked": [lib.soname for lib in found.checked],
                      "libraries_missing": [lib.soname for lib in found.missing]}
    if found.missing:
        commands = "; or ".join(desktop_check.install_commands(found.missing))
        report.problem(f"the window cannot open: missing {', '.join(lib.soname for lib in found.missing)}",
                       commands)
    elif found.problem:  # no screen: the command line still works
        report.warning("no screen: the window cannot open here",
                       "use `studio generate`, or QT_QPA_PLATFORM=offscreen")


def _folders(report: Report, paths: StudioPaths) -> None:
    for name, folder in (("config", paths.config_dir), ("data", paths.data_dir), ("cache", paths.cache_dir),
                         ("gallery", paths.gallery_dir), ("models", paths.models_dir)):
        existing = _existing_ancestor(folder)
        writable = _writable(existing)
        free = shutil.disk_usage(existing).free if existing is not None else None
        report.folders.append({"name": name, "path": str(folder), "exists": folder.is_dir(),
                               "writable": writable, "free_bytes": free})
        if not writable:
            report.problem(f"the {name} folder {folder} cannot be written",
                           "make it writable (chmod u+w), or set STUDIO_HOME to a folder you own")


def _existing_ancestor(folder: Path) -> Path | None:
    """The folder, or the nearest path above it that exists (where it would be created);
    a file in the way is returned too, and is not writable as a folder."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return candidate
    return None


def _writable(folder: Path | None) -> bool:
    """Whether a file can be created in `folder`: tried, since permissions alone do not tell
    (a read-only mount, a full quota)."""
    if folder is None or not folder.is_dir():
        return False
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".studio-doctor-"):
            return True
    except OSError:
        return False


def _models(report: Report, paths: StudioPaths) -> None:
    from studio.engine.catalogue.registry import ModelRegistry

    try:
        entries = ModelRegistry(paths).entries()
    except Exception as error:  # a scan that fails is itself what doctor should say
        report.problem(f"the models could not be listed ({type(error).__name__}: {error})",
                       f"check that {paths.models_dir} can be read")
        return
    for entry in entries:
        report.models.append({"id": entry.id, "name": entry.display_name, "family": entry.family,
                              "source": entry.source, "size_bytes": entry.size_bytes,
                              "problem": entry.problem or None})
    if not entries:
        report.problem("no model found", f"put a diffusers model folder into {paths.models_dir}")
    elif all(entry.bundled for entry in entries):
        report.warning("only the built-in demo model is installed (it draws simple shapes)",
                       f"put a diffusers model folder or a .safetensors checkpoint into {paths.models_dir}")


def _extras(report: Report) -> None:
    for extra in EXTRAS:
        present = importlib.util.find_spec(extra.module) is not None
        report.extras.append({"module": extra.module, "feature": extra.feature, "present": present,
                              "fix": None if present else extra.fix})
        if not present:
            add = report.problem if extra.required else report.warning
            add(f"{extra.module} is missing: no {extra.feature}", extra.fix)


# -- text --------------------------------------------------------------------------------


def as_text(report: Report) -> str:
    t = report.torch
    lines = ["Studio doctor", ""]
    if t.get("version"):
        mps = "available" if t["mps_available"] else "not available"
        lines.append(f"torch {t['version']} · build: {t['build']} · MPS {mps}")
    else:
        lines.append(f"torch: cannot be imported ({t.get('error')})")
    lines += ["", "Devices:"]
    for device in report.devices:
        lines.append(f"  {device['device']}: {device['name']} · {_memory(device)}")
    d = report.desktop
    lines += ["", f"Qt platform: {d['qt_platform'] or 'none (no screen)'}"]
    if d["libraries_checked"]:
        missing = d["libraries_missing"]
        lines.append(f"  system libraries: {len(d['libraries_checked']) - len(missing)} of "
                     f"{len(d['libraries_checked'])} present" + (f"; missing {', '.join(missing)}" if missing else ""))
    lines += ["", "Folders:"]
    for folder in report.folders:
        state = "writable" if folder["writable"] else "NOT writable"
        state += "" if folder["exists"] else ", created on use"
        lines.append(f"  {folder['name']:<8} {folder['path']} ({state}, {_gib(folder['free_bytes'])} free)")
    lines += ["", f"Models ({len(report.models)}):"]
    for model in report.models:
        note = f" · cannot load: {model['problem']}" if model["problem"] else ""
        lines.append(f"  {model['id']}: {model['name']} · {model['family']} · {model['source']}{note}")
    lines += ["", "Extras:"]
    for extra in report.extras:
        state = "present" if extra["present"] else f"missing · fix: {extra['fix']}"
        lines.append(f"  {extra['module']:<10} {extra['feature']}: {state}")
    for title, items in (("Problems", report.problems), ("Warnings", report.warnings)):
        if items:
            lines += ["", f"{title}:"]
            lines += [f"  - {item['what']}\n    fix: {item['fix']}" for item in items]
    lines += ["", "Studio can generate here." if not report.problems else
              "Studio cannot generate here until the problems above are fixed."]
    return "\n".join(lines)


def _memory(device: dict[str, Any]) -> str:
    if device["total_bytes"] is None:
        return "memory unknown"
    return f"{_gib(device['total_bytes'])} total, {_gib(device['free_bytes'])} free"


def _gib(value: int | None) -> str:
    return "?" if value is None else f"{value / GIB:.1f} GiB"
