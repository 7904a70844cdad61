"""The fast path (compiled blocks, channels_last, fused QKV) draws the plain path's picture
and compiles once: a new prompt, seed, guidance scale or step count compiles nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.loading.fast_path import FastPath, FastPathOptions, compiled_graphs
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.cancel import CancelToken
from studio.engine.run.engine import Engine
from studio.engine.run.events import Cancelled, Event, Finished, Optimizing, Step
from studio.engine.run.request import GenerationRequest

# uint8 levels: fused projections and channels_last reorder float sums, nothing more
TOLERANCE_MAX, TOLERANCE_MEAN = 3, 0.5


def _engine(tmp: Path, fast_model: Path | None) -> Engine:
    paths = StudioPaths.under(tmp)
    engine = Engine(ModelRegistry(paths), device="cpu", previews=PreviewSettings(decoder="linear"))
    if fast_model is not None:
        # aot_eager runs the whole compile pipeline (dynamo, guards, AOT autograd) without
        # generating C++; the benchmark measures inductor
        options = FastPathOptions(backend="aot_eager", cache_dir=paths.cache_dir, engine="torch")
        engine.fast_path = FastPath(models=(str(fast_model),), options=options)
    return engine


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, tiny_sd_model: Path) -> tuple[Engine, Engine]:
    return _engine(tmp_path_factory.mktemp("plain"), None), _engine(tmp_path_factory.mktemp("fast"), tiny_sd_model)


def _request(model: Path, **changes: Any) -> GenerationRequest:
    base = GenerationRequest("a red circle", seed=5, steps=3, guidance=7.5, width=64, height=64, model=str(model))
    return base.replace(**changes)


def _run(engine: Engine, request: GenerationRequest) -> tuple[np.ndarray, list[Event]]:
    events: list[Event] = []
    outcome = engine.generate(request, events.append)
    assert isinstance(outcome, Finished), outcome
    return np.asarray(outcome.images[0], dtype=np.int16), events


def test_fast_path_draws_the_plain_picture(engines: tuple[Engine, Engine], tiny_sd_model: Path) -> None:
    plain, fast = engines
    request = _request(tiny_sd_model)
    expected, _ = _run(plain, request)
    got, _events = _run(fast, request)
    difference = np.abs(got - expected)
    assert difference.max() <= TOLERANCE_MAX and difference.mean() <= TOLERANCE_MEAN
    other, _ = _run(fast, request.replace(seed=6))
    assert np.abs(other - expected).mean() > 5  # the comparison can fail: another seed differs
    pipe = fast.pipeline_for(fast.registry.resolve(request.model))
    assert type(pipe.unet.down_blocks[0].forward).__name__ != "method"  # the blocks are compiled


def test_optimizing_is_told_once_and_nothing_recompiles(engines: tuple[Engine, Engine], tiny_sd_model: Path) -> None:
    _plain, fast = engines
    _run(fast, _request(tiny_sd_model, seed=1))  # compiled here (or by the test before)
    graphs = compiled_graphs()
    assert graphs > 0
    for changes in ({"seed": 99}, {"prompt": "a blue square at the top"}, {"guidance": 4.0}, {"steps": 5}):
        _image, events = _run(fast, _request(tiny_sd_model, **changes))
        assert not [e for e in events if isinstance(e, Optimizing)], changes
        assert compiled_graphs() == graphs, changes
    # another size is another shape: compiled once, and the artist is told
    _image, events = _run(fast, _request(tiny_sd_model, width=128, height=64))
    optimizing = [n for n, e in enumerate(events) if isinstance(e, Optimizing)]
    first_step = next(n for n, e in enumerate(events) if isinstance(e, Step))
    assert len(optimizing) == 1 and optimizing[0] < first_step


def test_cancel_lands_mid_step_on_the_fast_path(engines: tuple[Engine, Engine], tiny_sd_model: Path) -> None:
    _plain, fast = engines
    request = _request(tiny_sd_model, steps=4)
    pipe = fast.pipeline_for(fast.registry.resolve(request.model))
    cancel = CancelToken()
    after: list[int] = []
    handle = pipe.unet.mid_block.register_forward_pre_hook(lambda *_: cancel.cancel())
    up_handle = pipe.unet.up_blocks[0].register_forward_pre_hook(lambda *_: after.append(1))
    try:
        outcome = fast.generate(request, lambda e: None, cancel)
    finally:
        handle.remove()
        up_handle.remove()
    assert isinstance(outcome, Cancelled) and outcome.steps_done == 0
    assert after == []  # the up blocks of the first step never ran
