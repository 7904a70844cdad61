"""The prompt encoded ahead of Generate is reused by the run, and changes nothing in its picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.run.ahead import encode_prompt_ahead
from studio.engine.run.engine import Engine
from studio.engine.run.events import Finished
from studio.engine.run.request import GenerationRequest

REQUEST = GenerationRequest("a red circle on a blue background", seed=3, steps=3, width=64, height=64,
                            guidance=7.0, model="studio-shapes")


def _engine(root: Path) -> Engine:
    return Engine(ModelRegistry(StudioPaths.under(root)), device="cpu")


def _picture(engine: Engine) -> np.ndarray:
    outcome = engine.generate(REQUEST, lambda event: None)
    assert isinstance(outcome, Finished)
    return np.asarray(outcome.images[0])


def test_prompt_encoded_ahead_is_not_encoded_again(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "ahead")
    encode_prompt_ahead(engine, REQUEST)
    pipe = engine.pipeline_for(engine.registry.resolve(REQUEST.model))
    calls: list[int] = []
    handle = pipe.text_encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        ahead = _picture(engine)
    finally:
        handle.remove()
    assert calls == []
    plain = _picture(_engine(tmp_path / "plain"))
    assert np.array_equal(ahead, plain)


def test_another_prompt_is_encoded_by_the_run(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    encode_prompt_ahead(engine, REQUEST.replace(prompt="a green star"))
    pipe = engine.pipeline_for(engine.registry.resolve(REQUEST.model))
    calls: list[int] = []
    handle = pipe.text_encoder.register_forward_hook(lambda *args: calls.append(1))
    try:
        _picture(engine)
    finally:
        handle.remove()
    assert calls, "a prompt not encoded ahead goes through the text encoder"
