"""Work diffusers repeats on every call, done once per pipeline or ahead, changes no picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.run.derived import derived_pipeline
from studio.engine.run.engine import Engine
from studio.engine.run.events import Finished
from studio.engine.run.once import keep_spare_scheduler, take_scheduler
from studio.engine.run.request import GenerationRequest


def _engine(root: Path) -> Engine:
    return Engine(ModelRegistry(StudioPaths.under(root)), device="cpu")


def test_the_pinned_pipeline_answers_as_diffusers_does(tmp_path: Path, tiny_sd_model: Path) -> None:
    import diffusers

    engine = _engine(tmp_path)
    pipe = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert isinstance(pipe, diffusers.StableDiffusionPipeline)
    assert "_execution_device" in type(pipe).__dict__, "the execution device is not pinned"
    assert pipe._execution_device == diffusers.StableDiffusionPipeline._execution_device.fget(pipe)
    image = derived_pipeline(pipe, "image")  # from_pipe goes by the class name
    assert type(image).__name__ == "StableDiffusionImg2ImgPipeline"


def test_a_spare_scheduler_is_taken_once_and_only_when_it_fits(tmp_path: Path, tiny_sd_model: Path) -> None:
    engine = _engine(tmp_path)
    entry = engine.registry.resolve(str(tiny_sd_model))
    pipe = engine.pipeline_for(entry)
    config = engine._base_schedulers[str(entry.path)]
    keep_spare_scheduler(pipe, "Euler", config)
    spare = pipe.__dict__["_studio_spare_scheduler"][2]
    assert take_scheduler(pipe, "Euler", config) is spare
    assert take_scheduler(pipe, "Euler", config) is not spare  # a run never reuses a used one
    keep_spare_scheduler(pipe, "Euler", config)
    assert type(take_scheduler(pipe, "DDIM", config)).__name__ == "DDIMScheduler"


def test_a_prepared_run_makes_the_plain_runs_picture(tmp_path: Path, tiny_sd_model: Path) -> None:
    request = GenerationRequest("a red circle", seed=4, steps=3, width=32, height=32, guidance=7.0,
                                model=str(tiny_sd_model), scheduler="DPM++ 2M")
    ahead = _engine(tmp_path / "ahead")
    ahead.prepare(request)
    first = ahead.generate(request, lambda event: None)
    again = ahead.generate(request, lambda event: None)  # no spare now: built in the run
    plain = _engine(tmp_path / "plain").generate(request, lambda event: None)
    assert isinstance(first, Finished) and isinstance(again, Finished) and isinstance(plain, Finished)
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(plain.images[0]))
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(plain.images[0]))
