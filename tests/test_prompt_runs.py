"""Prompt syntax through a whole run of the engine: editing switches mid-run, the demo model reads
plain text with a notice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.run.engine import Engine
from studio.engine.run.events import Finished
from studio.engine.run.prompts import WEIGHTS_IGNORED
from studio.engine.run.request import GenerationRequest


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(ModelRegistry(StudioPaths.under(tmp_path_factory.mktemp("home"))), device="cpu")


def run(engine: Engine, model: str, prompt: str, **changes: object) -> Finished:
    request = GenerationRequest(prompt, seed=7, steps=4, width=64, height=64, model=model).replace(**changes)
    outcome = engine.generate(request, lambda _e: None)
    assert isinstance(outcome, Finished), outcome
    return outcome


def test_an_edited_prompt_is_neither_of_its_halves(engine: Engine, tiny_sd_model: Path) -> None:
    model = str(tiny_sd_model)
    edited = np.asarray(run(engine, model, "a [red:blue:2] circle").images[0])
    red = np.asarray(run(engine, model, "a red circle").images[0])
    blue = np.asarray(run(engine, model, "a blue circle").images[0])
    assert not np.array_equal(edited, red) and not np.array_equal(edited, blue)
    # an edit at the last step never switches: the run is that of the first text
    assert np.array_equal(np.asarray(run(engine, model, "a [red:blue:4] circle").images[0]), red)


def test_an_edited_prompt_switches_in_image_to_image_too(engine: Engine, tiny_sd_model: Path, tmp_path: Path) -> None:
    model = str(tiny_sd_model)
    start = tmp_path / "start.png"
    run(engine, model, "a red circle").images[0].save(start)
    edited = run(engine, model, "a [red:blue:0.5] circle", start_image=str(start), strength=0.5).images[0]
    red = run(engine, model, "a red circle", start_image=str(start), strength=0.5).images[0]
    assert not np.array_equal(np.asarray(edited), np.asarray(red))


def test_the_demo_model_takes_weights_like_any_sd_pipeline(engine: Engine) -> None:
    # the bundled model is a Stable Diffusion pipeline with a CLIP tokenizer of its own vocabulary,
    # so compel weights it as it does any SD 1.x model
    weighted = run(engine, "", "a (red:1.6) [circle:square:0.5]")
    plain = run(engine, "", "a red circle")
    assert not any("ignored" in n for n in weighted.notices + plain.notices)
    assert not np.array_equal(np.asarray(weighted.images[0]), np.asarray(plain.images[0]))


def test_flux_reads_plain_text_and_says_weights_are_ignored(engine: Engine, tmp_path: Path) -> None:
    from tests.tiny_families import build_tiny_flux

    model = str(build_tiny_flux(tmp_path / "flux"))
    weighted = run(engine, model, "a (red:1.4) [circle:square:0.5] BREAK sky", steps=2, guidance=1.0)
    plain = run(engine, model, "a red circle sky", steps=2, guidance=1.0)
    assert WEIGHTS_IGNORED.format(name="FluxPipeline") in weighted.notices
    assert not any("ignored" in n for n in plain.notices)
    assert np.array_equal(np.asarray(weighted.images[0]), np.asarray(plain.images[0]))
