"""Cancel lands inside a denoising step: the blocks after the cancel do not run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.cancel import CancelToken
from studio.engine.run.engine import Engine
from studio.engine.run.events import Cancelled, Event, Finished, Step
from studio.engine.run.mid_step import denoiser_blocks
from studio.engine.run.request import GenerationRequest


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    paths = StudioPaths.under(tmp_path_factory.mktemp("studio"))
    return Engine(ModelRegistry(paths), device="cpu", previews=PreviewSettings(decoder="linear"))


def _request(model: Path, **changes: Any) -> GenerationRequest:
    return GenerationRequest("a red circle", seed=3, steps=6, width=64, height=64, model=str(model)).replace(**changes)


def test_cancel_inside_a_step_stops_before_the_next_block(engine: Engine, tiny_sd_model: Path) -> None:
    request = _request(tiny_sd_model)
    pipe = engine.pipeline_for(engine.registry.resolve(request.model))
    blocks = denoiser_blocks(pipe.unet)
    assert len(blocks) == len(pipe.unet.down_blocks) + 1 + len(pipe.unet.up_blocks)
    cancel = CancelToken()
    ran: list[tuple[int, int]] = []  # (steps done, block number) of every block that ran
    steps: list[int] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Step):
            steps.append(event.index)

    def recorder(number: int) -> Any:
        def hook(_module: Any, _args: Any, _output: Any) -> None:
            ran.append((len(steps), number))
            if len(steps) == 2 and number == 0:
                cancel.cancel()  # pressed while the third step is in its first block
        return hook

    handles = [block.register_forward_hook(recorder(n)) for n, block in enumerate(blocks)]
    try:
        outcome = engine.generate(request, on_event, cancel)
    finally:
        for handle in handles:
            handle.remove()
    assert isinstance(outcome, Cancelled) and outcome.steps_done == 2
    assert steps == [1, 2]
    # the third step ran its first block and nothing after it
    assert [n for done, n in ran if done == 2] == [0]
    assert len([n for done, n in ran if done == 0]) == len(blocks)


def test_a_cancelled_token_of_an_earlier_run_does_not_stop_the_next(engine: Engine, tiny_sd_model: Path) -> None:
    cancel = CancelToken()
    first = engine.generate(_request(tiny_sd_model), lambda e: cancel.cancel(), cancel)
    assert isinstance(first, Cancelled)
    # the hooks stay on the UNet between runs; they check only the token of the run in progress
    second = engine.generate(_request(tiny_sd_model, steps=2), lambda e: None)
    assert isinstance(second, Finished)
