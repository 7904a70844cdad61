"""The window prepares the run while the artist types: Generate then skips the text encoder,
and the picture is the one a plain run makes."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.run.engine import Engine
from studio.engine.run.events import Finished
from studio.engine.run.request import GenerationRequest
from studio.ui.events import Delivered, Idle
from studio.ui.worker import GenerationWorker
from tests.ui_helpers import STEP_TIMEOUT_MS, EventLog, open_window, wait_event

DEMO = "studio-shapes"
PROMPT = "a red circle on a blue background"


class _WatchedEngine(Engine):
    """The real engine, noting each request it prepared ahead and on which thread."""

    def __init__(self, registry: ModelRegistry) -> None:
        super().__init__(registry, device="cpu")
        self.prepared: list[tuple[str, str]] = []

    def prepare(self, request: GenerationRequest) -> None:
        super().prepare(request)
        self.prepared.append((request.prompt, threading.current_thread().name))


@pytest.fixture
def paths(tmp_path: Path) -> StudioPaths:
    return StudioPaths.under(tmp_path / "home")


def test_typed_prompt_is_encoded_ahead_and_the_picture_is_unchanged(
    qtbot: Any, paths: StudioPaths, tmp_path: Path,
) -> None:
    engine = _WatchedEngine(ModelRegistry(paths))
    window = open_window(qtbot, paths, engine, persist=False)
    panel = window.parameters
    assert panel.select_model(DEMO)
    panel.steps.setValue(3)
    panel.width_box.setValue(64)
    panel.height_box.setValue(64)
    panel.random_button.setChecked(False)
    panel.seed_box.setValue(5)
    panel.prompt.setPlainText("")
    qtbot.keyClicks(panel.prompt, PROMPT)
    # prepared once typing paused, not once per key, and on the worker's thread
    qtbot.waitUntil(lambda: any(p == PROMPT for p, _ in engine.prepared), timeout=STEP_TIMEOUT_MS)
    assert len([p for p, _ in engine.prepared if p.startswith("a red")]) < len(PROMPT) // 2
    assert all(thread != threading.main_thread().name for _, thread in engine.prepared)

    pipe = engine.pipeline_for(engine.registry.resolve(DEMO))  # the worker is idle: read it here
    calls: list[int] = []
    handle = pipe.text_encoder.register_forward_hook(lambda *args: calls.append(1))
    log = EventLog(window.controller)
    try:
        with wait_event(qtbot, window.controller, Idle):
            qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    finally:
        handle.remove()
    assert calls == [], "Generate encoded a prompt that was encoded ahead"
    finished = log.of(Finished)[0]
    picture = log.of(Delivered)[0].arrays[0]

    plain = Engine(ModelRegistry(StudioPaths.under(tmp_path / "plain")), device="cpu")
    again = plain.generate(finished.request.replace(model=DEMO), lambda event: None)
    assert isinstance(again, Finished)
    assert np.array_equal(picture, np.asarray(again.images[0].convert("RGB")))


def test_a_failure_ahead_is_logged_and_says_nothing_to_the_artist(
    paths: StudioPaths, caplog: pytest.LogCaptureFixture,
) -> None:
    worker = GenerationWorker(lambda: Engine(ModelRegistry(paths), device="cpu"), lambda *args: ("", None))
    heard: list[Any] = []
    worker.event.connect(heard.append)
    worker.warm_up()
    heard.clear()
    with caplog.at_level(logging.WARNING, logger="studio.ui.worker"):
        worker.prepare(GenerationRequest(PROMPT, model="no-such-model", width=64, height=64))
    assert heard == []
    assert any("ahead of Generate" in record.getMessage() for record in caplog.records)
