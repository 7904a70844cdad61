"""Image-to-image and inpainting on the other families' tiny pipelines (SDXL's two encoders,
SD3's and Flux's transformers and flow matching): derived by from_pipe with the weights shared,
the steps that run following the strength, previews every step, the picture kept outside the mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.derived import derived_pipeline, shares_weights
from studio.engine.run.engine import Engine
from studio.engine.run.events import Event, Finished, Step
from studio.engine.run.request import GenerationRequest
from studio.engine.run.start_image import soft_mask

BUILDERS = {"SDXL": "build_tiny_sdxl", "SD3": "build_tiny_sd3", "Flux": "build_tiny_flux"}
DERIVED = {
    "SDXL": ("StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline"),
    "SD3": ("StableDiffusion3Img2ImgPipeline", "StableDiffusion3InpaintPipeline"),
    "Flux": ("FluxImg2ImgPipeline", "FluxInpaintPipeline"),
}


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def family_model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    from tests import tiny_families

    family = str(request.param)
    build = getattr(tiny_families, BUILDERS[family])
    return family, build(tmp_path_factory.mktemp("families") / family.lower())


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    paths = StudioPaths.under(tmp_path_factory.mktemp("studio"))
    return Engine(ModelRegistry(paths), device="cpu", previews=PreviewSettings(cache_dir=paths.cache_dir))


@pytest.fixture(scope="module")
def start(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pictures")
    y, x = np.mgrid[0:64, 0:64]
    Image.fromarray(np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)).save(folder / "start.png")
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    mask.save(folder / "mask.png")
    return folder / "start.png", folder / "mask.png"


def _run(engine: Engine, model: Path, **changes: object) -> tuple[list[Event], Finished]:
    request = GenerationRequest("a red fox", seed=5, steps=4, width=64, height=64, model=str(model))
    events: list[Event] = []
    outcome = engine.generate(request.replace(**changes), events.append)
    assert isinstance(outcome, Finished), getattr(outcome, "details", outcome)
    return events, outcome


def test_derived_pipelines_share_the_family_weights(engine: Engine, family_model: tuple[str, Path]) -> None:
    family, folder = family_model
    base = engine.pipeline_for(engine.registry.resolve(str(folder)))
    image, inpaint = derived_pipeline(base, "image"), derived_pipeline(base, "inpaint")
    assert (type(image).__name__, type(inpaint).__name__) == DERIVED[family]
    assert shares_weights(base, image) and shares_weights(base, inpaint)
    for name in ("text_encoder_2", "text_encoder_3"):
        if getattr(base, name, None) is not None:
            assert getattr(image, name) is getattr(base, name)


def test_image_to_image_runs_the_strength_share_of_steps_with_previews(
    engine: Engine, family_model: tuple[str, Path], start: tuple[Path, Path],
) -> None:
    _, folder = family_model
    events, done = _run(engine, folder, start_image=str(start[0]), strength=0.5)
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.index for s in steps] == [1, 2] and steps[-1].total == 2
    assert steps[0].preview is not None and steps[-1].preview is not None
    assert done.images[0].size == (64, 64)
    with Image.open(start[0]) as picture:
        assert np.abs(np.asarray(done.images[0], dtype=np.int16) - np.asarray(picture, dtype=np.int16)).mean() > 1


def test_inpainting_keeps_the_picture_outside_the_mask(
    engine: Engine, family_model: tuple[str, Path], start: tuple[Path, Path],
) -> None:
    _, folder = family_model
    _, done = _run(engine, folder, start_image=str(start[0]), mask=str(start[1]), strength=1.0, mask_blur=2)
    with Image.open(start[0]) as picture, Image.open(start[1]) as mask:
        before = np.asarray(picture.convert("RGB"), dtype=np.int16)
        kept = np.asarray(soft_mask(mask.convert("L"), 2)) == 0
        inside = np.asarray(mask) == 255
    after = np.asarray(done.images[0], dtype=np.int16)
    assert np.abs(after - before)[kept].max() <= 1
    assert np.abs(after - before)[inside].mean() > 1
