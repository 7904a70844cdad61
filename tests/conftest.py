from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


@pytest.fixture(scope="session")
def tiny_sd_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Stable Diffusion folder; its id is its path."""
    from tests.tiny_models import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="session")
def tiny_inpaint_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight SD inpainting folder: a 9-channel UNet."""
    from tests.tiny_models import build_tiny_sd

    return build_tiny_sd(tmp_path_factory.mktemp("models") / "tiny-sd-inpainting", inpainting=True)


@pytest.fixture
def studio_paths(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Studio's folders inside a fresh temporary folder."""
    from studio.config.paths import StudioPaths

    return StudioPaths.under(tmp_path / "studio")


@pytest.fixture(autouse=True)
def _dangling_qthreads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Fail a Qt test that leaves a QThread running after its widgets are closed.

    Autouse fixtures are set up first, so this one tears down after pytest-qt has closed
    the test's widgets: a window that does not join its worker thread on close fails here.
    """
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    import traceback
    import weakref

    from PySide6.QtCore import QThread

    request.getfixturevalue("qapp")
    started: weakref.WeakKeyDictionary[QThread, str] = weakref.WeakKeyDictionary()
    original_start = QThread.start

    def recording_start(self: QThread, *args: object) -> None:
        started[self] = "".join(traceback.format_stack(limit=8)[:-1])
        original_start(self, *args)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield
    dangling: list[str] = []
    for thread, where in list(started.items()):
        try:
            running = thread.isRunning()
        except RuntimeError:  # the C++ thread object is already gone
            continue
        if running:
            dangling.append(where)
            thread.quit()
            thread.wait(2000)
    if dangling:
        pytest.fail("The test left a QThread running. Started at:\n" + "\n".join(dangling))


@pytest.fixture(scope="session")
def shared_engine(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """One real Engine for the UI tests: its loaded pipelines and preview fits carry over,
    so each test pays only for its own steps. Runs are sequential, on one worker at a time."""
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    return Engine(ModelRegistry(StudioPaths.under(tmp_path_factory.mktemp("engine-home"))))


@pytest.fixture(scope="module")
def studio_server(tiny_sd_model: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A `studio serve` server on 127.0.0.1 with two CPU replicas serving the tiny model, up for
    one test module (Ray starts in seconds, not per test). See tests/remote_server.py."""
    pytest.importorskip("ray")
    from tests.remote_server import running_server

    with running_server(tiny_sd_model.parent, tmp_path_factory.mktemp("server-home")) as server:
        yield server
