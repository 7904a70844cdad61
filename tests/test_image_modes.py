"""Image-to-image, inpainting, outpainting, variations and the hires pass on the real engine,
with tiny models built from configs (a 4-channel and a 9-channel UNet) and real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.cancel import CancelToken
from studio.engine.run.derived import derived_pipeline, shares_weights
from studio.engine.run.engine import Engine
from studio.engine.run.events import Cancelled, Event, Failed, Finished, Started, Step
from studio.engine.run.request import GenerationRequest, InvalidRequest
from studio.engine.run.start_image import soft_mask


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    paths = StudioPaths.under(tmp_path_factory.mktemp("studio"))
    settings = PreviewSettings(decoder="linear", cache_dir=paths.cache_dir)
    return Engine(ModelRegistry(paths), device="cpu", previews=settings)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A start picture with structure (so changes show), a square mask, and broken files."""
    folder = tmp_path_factory.mktemp("pictures")
    y, x = np.mgrid[0:64, 0:64]
    rgb = np.stack([x * 4, y * 4, (x + y) * 2], axis=-1).astype(np.uint8)
    Image.fromarray(rgb).save(folder / "start.png")
    Image.fromarray(rgb).resize((96, 64)).save(folder / "wide.png")
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (20, 20, 44, 44))
    mask.save(folder / "mask.png")
    Image.new("L", (64, 64), 0).save(folder / "black.png")
    whole = (folder / "start.png").read_bytes()
    (folder / "truncated.png").write_bytes(whole[: len(whole) // 2])
    (folder / "notes.png").write_text("not a picture", encoding="utf-8")
    return {p.stem: p for p in folder.iterdir()}


def _run(engine: Engine, model: Path, **changes: object) -> tuple[list[Event], Finished]:
    request = GenerationRequest("a red circle", seed=7, steps=8, width=64, height=64, model=str(model))
    events: list[Event] = []
    outcome = engine.generate(request.replace(**changes), events.append)
    assert isinstance(outcome, Finished), getattr(outcome, "message", outcome)
    return events, outcome


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_strength_zero_returns_the_start_image(engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path]) -> None:
    events, done = _run(engine, tiny_sd_model, start_image=str(pictures["start"]), strength=0.0)
    assert not [e for e in events if isinstance(e, Step)]
    assert np.array_equal(_pixels(done.images[0]), _pixels(Image.open(pictures["start"])))


def test_strength_one_ignores_the_start_image(engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path]) -> None:
    _, text = _run(engine, tiny_sd_model)
    _, image = _run(engine, tiny_sd_model, start_image=str(pictures["start"]), strength=1.0)
    assert np.array_equal(_pixels(text.images[0]), _pixels(image.images[0]))


@pytest.mark.parametrize(("strength", "steps"), [(0.25, 2), (0.5, 4), (0.6, 4), (0.9, 7)])
def test_steps_that_run_follow_the_strength(
    engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path], strength: float, steps: int,
) -> None:
    events, done = _run(engine, tiny_sd_model, start_image=str(pictures["start"]), strength=strength)
    started = events[0]
    assert isinstance(started, Started) and started.total == steps == started.request.steps_to_run
    assert [e.index for e in events if isinstance(e, Step)] == list(range(1, steps + 1))
    assert len(done.film) == steps
    # A start image noised only part of the way keeps more of itself at a lower strength.
    assert not np.array_equal(_pixels(done.images[0]), _pixels(Image.open(pictures["start"])))


def test_lower_strength_stays_closer_to_the_start(engine: Engine, tmp_path: Path) -> None:
    """On the demo model, whose VAE is trained: with the same prompt and another seed, a low
    strength gives back nearly the start, full strength another picture."""
    demo = GenerationRequest("a red circle on a white background", seed=3, steps=12)
    first = engine.generate(demo, lambda event: None)
    assert isinstance(first, Finished)
    first.images[0].save(tmp_path / "circle.png")
    start = _pixels(first.images[0])
    gaps = []
    for strength in (0.25, 1.0):
        changed = demo.replace(start_image=str(tmp_path / "circle.png"), strength=strength, seed=4)
        done = engine.generate(changed, lambda event: None)
        assert isinstance(done, Finished)
        gaps.append(float(np.abs(_pixels(done.images[0]) - start).mean()))
    assert gaps[0] * 2 < gaps[1]


@pytest.mark.parametrize("model", ["tiny_sd_model", "tiny_inpaint_model"])
@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_inpainting_keeps_every_pixel_outside_the_mask(
    engine: Engine, pictures: dict[str, Path], model: str, strength: float, request: pytest.FixtureRequest,
) -> None:
    folder = request.getfixturevalue(model)
    _, done = _run(engine, folder, start_image=str(pictures["start"]), mask=str(pictures["mask"]),
                   strength=strength, mask_blur=4)
    start = _pixels(Image.open(pictures["start"]))
    result = _pixels(done.images[0])
    untouched = np.asarray(soft_mask(Image.open(pictures["mask"]).convert("L"), 4)) == 0
    assert untouched.sum() > 64 * 64 // 2
    assert np.abs(result - start)[untouched].max() <= 1
    inside = np.asarray(Image.open(pictures["mask"])) == 255
    assert np.abs(result - start)[inside].mean() > 2  # and the masked area was repainted


def test_only_the_masked_area_keeps_the_picture_size(
    engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path],
) -> None:
    _, done = _run(engine, tiny_sd_model, start_image=str(pictures["wide"]), mask=str(pictures["mask"]),
                   masked_area_only=True, masked_area_padding=4, width=32, height=32, mask_blur=2)
    wide = Image.open(pictures["wide"])
    assert done.images[0].size == wide.size
    scaled_mask = Image.open(pictures["mask"]).convert("L").resize(wide.size, Image.Resampling.BILINEAR)
    untouched = np.asarray(soft_mask(scaled_mask, 2)) == 0
    assert np.abs(_pixels(done.images[0]) - _pixels(wide))[untouched].max() <= 1


def test_outpainting_extends_the_canvas_and_keeps_the_picture(
    engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path],
) -> None:
    events, done = _run(engine, tiny_sd_model, start_image=str(pictures["start"]), outpaint=(16, 8, 16, 8),
                        width=96, height=80, strength=1.0, mask_blur=4)
    assert done.images[0].size == (96, 80)
    assert isinstance(events[0], Started) and events[0].request.mode == "inpaint"
    border = Image.new("L", (96, 80), 255)
    border.paste(0, (16, 8, 80, 72))
    untouched = np.asarray(soft_mask(border, 4)) == 0
    kept = _pixels(done.images[0])[8:72, 16:80][untouched[8:72, 16:80]]
    assert np.abs(kept - _pixels(Image.open(pictures["start"]))[untouched[8:72, 16:80]]).max() <= 1


def test_a_start_image_of_another_shape_is_fitted_with_a_notice(
    engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path],
) -> None:
    _, done = _run(engine, tiny_sd_model, start_image=str(pictures["wide"]), strength=0.0, fit="crop")
    assert done.images[0].size == (64, 64)
    assert any("96x64" in notice and "cropped" in notice for notice in done.notices)


def test_variation_strength_zero_is_the_seed_and_one_is_the_variation_seed(
    engine: Engine, tiny_sd_model: Path,
) -> None:
    _, plain = _run(engine, tiny_sd_model)
    _, none = _run(engine, tiny_sd_model, variation_seed=11, variation_strength=0.0)
    _, half = _run(engine, tiny_sd_model, variation_seed=11, variation_strength=0.5)
    _, full = _run(engine, tiny_sd_model, variation_seed=11, variation_strength=1.0)
    _, other = _run(engine, tiny_sd_model, seed=11)
    assert np.array_equal(_pixels(plain.images[0]), _pixels(none.images[0]))
    assert np.abs(_pixels(full.images[0]) - _pixels(other.images[0])).max() <= 2
    assert not np.array_equal(_pixels(half.images[0]), _pixels(plain.images[0]))
    assert not np.array_equal(_pixels(half.images[0]), _pixels(other.images[0]))


def test_a_batch_of_variations_gives_each_image_its_own_variation_seed(
    engine: Engine, tiny_sd_model: Path,
) -> None:
    _, batch = _run(engine, tiny_sd_model, variation_seed=11, variation_strength=0.3, batch=2)
    _, second = _run(engine, tiny_sd_model, seed=8, variation_seed=12, variation_strength=0.3)
    assert np.abs(_pixels(batch.images[1]) - _pixels(second.images[0])).max() <= 2


def test_the_hires_pass_doubles_the_size_and_adds_its_steps(engine: Engine, tiny_sd_model: Path) -> None:
    events, done = _run(engine, tiny_sd_model, hires_scale=2.0, hires_strength=0.5, hires_steps=6)
    assert done.images[0].size == (128, 128)
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.index for s in steps] == list(range(1, 8 + 3 + 1))
    assert all(s.total == 11 for s in steps)
    assert len(done.film) == 11


def test_derived_pipelines_share_the_loaded_weights(
    engine: Engine, tiny_sd_model: Path, tmp_path: Path,
) -> None:
    base = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    image, inpaint = derived_pipeline(base, "image"), derived_pipeline(base, "inpaint")
    assert image is not base and type(image).__name__ == "StableDiffusionImg2ImgPipeline"
    assert shares_weights(base, image) and shares_weights(base, inpaint)
    assert derived_pipeline(base, "image") is image  # made once per loaded pipeline
    other = Engine(ModelRegistry(StudioPaths.under(tmp_path)), device="cpu")
    second_load = other.pipeline_for(other.registry.resolve(str(tiny_sd_model)))
    assert not shares_weights(base, second_load)


def test_cancel_during_image_to_image(engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path]) -> None:
    token = CancelToken()

    def on_event(event: Event) -> None:
        if isinstance(event, Step) and event.index == 2:
            token.cancel()

    request = GenerationRequest("x", seed=1, steps=8, width=64, height=64, model=str(tiny_sd_model),
                                start_image=str(pictures["start"]), strength=0.75)
    outcome = engine.generate(request, on_event, token)
    assert isinstance(outcome, Cancelled) and outcome.steps_done == 2


@pytest.mark.parametrize(("name", "field", "words"), [
    ("black", "mask", "black everywhere"),
    ("truncated", "start_image", "damaged or cut short"),
    ("notes", "start_image", "not a picture"),
    ("missing", "start_image", "does not exist"),
])
def test_bad_start_files_fail_in_words(
    engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path], name: str, field: str, words: str,
) -> None:
    path = str(pictures.get(name, pictures["start"].with_name("missing.png")))
    files = {"start_image": str(pictures["start"]), "mask": ""}
    files[field] = path
    if field == "mask":
        files["mask"] = path
    request = GenerationRequest("x", seed=1, steps=4, width=64, height=64, model=str(tiny_sd_model), **files)
    outcome = engine.generate(request, lambda event: None)
    assert isinstance(outcome, Failed)
    assert words in outcome.message and "Traceback" not in outcome.message


def test_a_mask_that_is_not_a_picture_is_named(
    engine: Engine, tiny_sd_model: Path, pictures: dict[str, Path],
) -> None:
    request = GenerationRequest("x", seed=1, steps=4, width=64, height=64, model=str(tiny_sd_model),
                                start_image=str(pictures["start"]), mask=str(pictures["notes"]))
    outcome = engine.generate(request, lambda event: None)
    assert isinstance(outcome, Failed) and "The mask notes.png is not a picture" in outcome.message


@pytest.mark.parametrize(("changes", "words"), [
    ({"start_image": "a.png", "strength": 1.5}, "Strength must be a number from 0 to 1"),
    ({"start_image": "a.png", "strength": -0.1}, "Strength must be a number from 0 to 1"),
    ({"mask": "m.png"}, "A mask needs a start image"),
    ({"outpaint": (8, 0, 0, 0)}, "Outpainting needs a start image"),
    ({"start_image": "a.png", "outpaint": (8, 0, -1, 0)}, "Outpainting takes four whole numbers"),
    ({"start_image": "a.png", "strength": 0.1, "steps": 5}, "run no denoising step"),
    ({"hires_scale": 4.0, "width": 1024, "height": 512}, "larger than 2048 pixels"),
    ({"variation_strength": 2}, "Variation strength must be a number from 0 to 1"),
    ({"fit": "squash"}, "Fit must be one of: crop, fit, stretch"),
])
def test_bad_image_settings_are_refused_before_the_run(changes: dict[str, object], words: str) -> None:
    request = GenerationRequest("x", seed=1, steps=8, width=64, height=64).replace(**changes)
    with pytest.raises(InvalidRequest) as raised:
        from studio.engine.run.request import check

        check(request)
    assert words in str(raised.value)


def test_the_hires_pass_uses_an_upscale_model_from_the_models_folder(tmp_path: Path, tiny_sd_model: Path) -> None:
    from tests.tiny_upscalers import build_tiny_esrgan

    paths = StudioPaths.under(tmp_path)
    build_tiny_esrgan(paths.models_dir / "upscalers" / "tiny-2x.safetensors")
    engine = Engine(ModelRegistry(paths), device="cpu")
    request = GenerationRequest("x", seed=1, steps=4, width=64, height=64, model=str(tiny_sd_model),
                                hires_scale=1.5, hires_strength=0.5, hires_upscaler="tiny-2x")
    done = engine.generate(request, lambda event: None)
    assert isinstance(done, Finished), getattr(done, "message", done)
    assert done.images[0].size == (96, 96)
    unknown = engine.generate(request.replace(hires_upscaler="nothing-here"), lambda event: None)
    assert isinstance(unknown, Failed) and "nothing-here" in unknown.message
