"""Shared set-up for the main-window tests: a window on the real engine and a tiny model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.config.paths import StudioPaths
from studio.ui.events import EngineReady

# Offscreen Qt warns once per shown window that it cannot resize native windows.
OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints"
STEP_TIMEOUT_MS = 120_000  # first runs load the pipeline; shared CPUs are slow


def link_model(paths: StudioPaths, model: Path) -> str:
    """Make `model` appear in the models folder; returns the id the picker uses for it."""
    paths.models_dir.mkdir(parents=True, exist_ok=True)
    link = paths.models_dir / model.name
    if not link.exists():
        link.symlink_to(model, target_is_directory=True)
    return str(link)


def open_window(qtbot: Any, paths: StudioPaths, engine: Any = None, *, persist: bool = True) -> Any:
    """Build and show the main window, start its worker and wait until the engine is ready.

    With no `engine`, the app makes its own as `studio` does (make_engine)."""
    from studio.app import build, make_engine

    factory = make_engine if engine is None else (lambda _registry: engine)
    studio = build(paths, persist=persist, engine_factory=factory)
    window = studio.window
    # qtbot holds widgets weakly; a window dropped unclosed would destroy a running QThread.
    # Keep it until qtbot's teardown closes it, which joins the worker thread.
    keep = getattr(qtbot, "_studio_windows", [])
    keep.append(window)
    qtbot._studio_windows = keep
    qtbot.addWidget(window)
    window.show()
    with wait_event(qtbot, studio.controller, EngineReady):
        studio.controller.start()
    qtbot.waitUntil(lambda: window.catalogue.scanned, timeout=STEP_TIMEOUT_MS)
    return window


def wait_event(qtbot: Any, controller: Any, kind: type, where: Callable[[Any], bool] | None = None,
               timeout: int = STEP_TIMEOUT_MS) -> Any:
    """Wait (as a context manager) for the controller's event stream to carry a `kind` event
    for which `where` holds; `blocker.args[0]` is the JobEvent."""
    def matches(job_event: Any) -> bool:
        return isinstance(job_event.event, kind) and (where is None or where(job_event.event))

    return qtbot.waitSignal(controller.event, timeout=timeout, check_params_cb=matches)


class EventLog:
    """Every event the controller sends, in order."""

    def __init__(self, controller: Any) -> None:
        self.events: list[Any] = []
        controller.event.connect(self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [e.event for e in self.events if isinstance(e.event, kind)]

    def kinds(self) -> list[str]:
        return [type(e.event).__name__ for e in self.events]


def set_small_run(window: Any, model_id: str, *, prompt: str = "a red circle",
                  steps: int = 3, seed: int | None = 7) -> None:
    """Fill the controls for a quick run on the tiny model."""
    panel = window.parameters
    assert panel.select_model(model_id), f"{model_id} is not in the model picker"
    panel.prompt.setPlainText(prompt)
    panel.steps.setValue(steps)
    panel.width_box.setValue(32)
    panel.height_box.setValue(32)
    panel.random_button.setChecked(seed is None)
    if seed is not None:
        panel.seed_box.setValue(seed)
