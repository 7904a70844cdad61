"""`studio serve` on loopback: a Ray instance on 127.0.0.1 with two CPU replicas, one per module,
and the client that makes it look like the local engine."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Event, Finished, Started, Step
from studio.engine.run.request import GenerationRequest

ray = pytest.importorskip("ray")
TOKEN = "test-token-1234"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from studio.config.paths import StudioPaths

    return StudioPaths.under(tmp_path_factory.mktemp("server-home"))


@pytest.fixture(scope="module")
def server(tiny_sd_model: Path, home: Any) -> Any:
    """The URL of a Studio server with two CPU replicas, up for the whole module."""
    from studio.remote.serving import ServeOptions, deploy, undeploy

    ray.init(num_cpus=2, include_dashboard=False, address="local", log_to_driver=False)
    options = ServeOptions(token=TOKEN, home=home, models=str(tiny_sd_model.parent), replicas=2)
    port = _free_port()
    try:
        url = deploy(options, host="127.0.0.1", port=port)
        yield _Server(url, options, port)
    finally:
        undeploy()
        ray.shutdown()


class _Server:
    def __init__(self, url: str, options: Any, port: int) -> None:
        self.url, self.options, self.port = url, options, port


def _request(model: Path, **changes: Any) -> GenerationRequest:
    return GenerationRequest(prompt="a red circle", seed=3, steps=4, width=64, height=64,
                             model=str(model), **changes)


def _run(engine: Any, request: GenerationRequest, cancel: CancelToken | None = None,
         after_step: Any = None) -> tuple[list[Event], Any]:
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if after_step is not None and isinstance(event, Step):
            after_step(event)

    return events, engine.generate(request, on_event, cancel)


def test_previews_every_step_and_the_same_pixels_as_local(server: Any, tiny_sd_model: Path,
                                                          studio_paths: Any) -> None:
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine
    from studio.remote.client import RemoteEngine

    request = _request(tiny_sd_model)
    events, outcome = _run(RemoteEngine(server.url, TOKEN), request)
    assert isinstance(outcome, Finished), getattr(outcome, "message", outcome)
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.index for s in steps] == [1, 2, 3, 4]
    assert all(s.preview is not None and s.preview.dtype == np.uint8 for s in steps)
    assert isinstance(events[0], Started) and events[0].total == 4
    assert outcome.server == server.url
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each replica runs (one CPU each): float sums depend on the split
    try:
        _, local = _run(Engine(ModelRegistry(studio_paths)), request)
    finally:
        torch.set_num_threads(threads)
    assert isinstance(local, Finished)
    assert np.array_equal(np.asarray(outcome.images[0]), np.asarray(local.images[0]))
    assert len(outcome.film) == len(local.film) == 4
