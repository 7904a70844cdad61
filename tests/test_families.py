"""Each family's tiny pipeline runs through the engine with a preview every step."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.engine.run.events import Finished, Step
from studio.engine.run.request import GenerationRequest

BUILDERS = {"SDXL": "build_tiny_sdxl", "SD3": "build_tiny_sd3", "Flux": "build_tiny_flux"}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def family_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests import tiny_families

    family = str(request.param)
    build = getattr(tiny_families, BUILDERS[family])
    return family, build(tmp_path_factory.mktemp("families") / family.lower())


def _engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    return Engine(ModelRegistry(StudioPaths.under(tmp_path / "studio")))


def test_family_makes_previews_and_an_image(family_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    family, folder = family_model
    engine = _engine(tmp_path)
    assert engine.registry.resolve(str(folder)).family == family
    events: list[object] = []
    request = GenerationRequest(prompt="a red fox", model=str(folder), steps=3, width=48,
                                height=32, seed=7)
    outcome = engine.generate(request, events.append)
    assert isinstance(outcome, Finished), getattr(outcome, "details", outcome)
    assert outcome.images[0].size == (48, 32)
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.index for s in steps] == [1, 2, 3]
    # The first and last steps always get a preview; the ones between may be skipped when a
    # preview costs more than its share of a (tiny, fast) step.
    assert steps[0].preview is not None and steps[-1].preview is not None
    previews = [s.preview for s in steps if s.preview is not None]
    assert all(p.ndim == 3 and p.shape[2] == 3 for p in previews)
    # The image's aspect ratio in every latent layout (Flux's packed tokens included).
    assert previews[0].shape[1] * 32 == previews[0].shape[0] * 48
    if family in ("SD3", "Flux"):
        pipe = engine.pipeline_for(engine.registry.resolve(str(folder)))
        assert type(pipe.scheduler).__name__ == "FlowMatchEulerDiscreteScheduler"
        # The saved request names the sampler that really ran, not the one asked for.
        assert request.scheduler == "Euler" and outcome.request.scheduler == "Flow matching"
    else:
        assert outcome.request.scheduler == "Euler"


def test_flow_matching_sampler_on_another_model_fails_in_words(tiny_sd_model: Path, tmp_path: Path) -> None:
    from studio.engine.run.events import Failed

    engine = _engine(tmp_path)
    request = GenerationRequest(prompt="a fox", model=str(tiny_sd_model), steps=2, width=32, height=32,
                                scheduler="Flow matching", seed=1)
    outcome = engine.generate(request, lambda _event: None)
    assert isinstance(outcome, Failed)
    assert "only with flow-matching models" in outcome.message


def test_flux_packed_latents_unpack_to_the_image_grid(tmp_path: Path) -> None:
    import torch
    from diffusers import FluxPipeline

    from studio.engine.run.families import unpack_latents
    from tests.tiny_families import build_tiny_flux

    pipe = FluxPipeline.from_pretrained(str(build_tiny_flux(tmp_path / "flux")))
    grid = torch.arange(2 * 4 * 6 * 8, dtype=torch.float32).reshape(2, 4, 6, 8)
    packed = FluxPipeline._pack_latents(grid, 2, 4, 6, 8)
    assert packed.shape == (2, 12, 16)
    height, width = 6 * pipe.vae_scale_factor, 8 * pipe.vae_scale_factor
    assert torch.equal(unpack_latents(pipe, packed, height, width), grid)
    assert unpack_latents(pipe, grid, height, width) is grid  # unpacked layouts pass through


def test_flow_matching_x0_recovers_the_clean_sample() -> None:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    from studio.engine.run.families import flow_matching_x0

    scheduler = FlowMatchEulerDiscreteScheduler()
    scheduler.set_timesteps(4)
    clean, noise = torch.randn(1, 4, 4, 4), torch.randn(1, 4, 4, 4)
    sigma = scheduler.sigmas[0]
    sample = (1 - sigma) * clean + sigma * noise
    velocity = noise - clean  # what a perfect flow-matching model predicts
    x0 = flow_matching_x0(scheduler, velocity, sample, 0)
    assert torch.allclose(x0, clean, atol=1e-5)


def test_few_step_models_get_their_own_defaults() -> None:
    from studio.engine.run.families import suggested_defaults

    assert suggested_defaults("SDXL", "sd_xl_base_1.0")["steps"] == 30
    turbo = suggested_defaults("SDXL", "sdxl-turbo")
    assert (turbo["steps"], turbo["guidance"], turbo["width"]) == (4, 0.0, 1024)
    assert suggested_defaults("Flux", "FLUX.1-schnell")["steps"] == 4
    assert suggested_defaults("SD 1.x", "LCM_Dreamshaper_v7")["scheduler"] == "LCM"
    assert suggested_defaults("other", "mystery") == {}
