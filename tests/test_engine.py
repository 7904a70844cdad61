from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.errors import ModelError
from studio.engine.loading.pipelines import check_model_folder
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.cancel import CancelToken
from studio.engine.run.engine import Engine
from studio.engine.run.events import Cancelled, Event, Failed, Finished, Started, Step
from studio.engine.run.request import GenerationRequest, InvalidRequest
from studio.engine.run.schedulers import SCHEDULER_NAMES


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    paths = StudioPaths.under(tmp_path_factory.mktemp("studio"))
    # "auto" may skip previews when a tiny step is fast on a busy machine; these tests want every one.
    settings = PreviewSettings(decoder="linear", cache_dir=paths.cache_dir)
    return Engine(ModelRegistry(paths), device="cpu", previews=settings)


def _request(model: Path, **changes: object) -> GenerationRequest:
    base = GenerationRequest("a red circle", seed=7, steps=4, width=64, height=64, model=str(model))
    return base.replace(**changes)


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_events_arrive_in_order(engine: Engine, tiny_sd_model: Path, scheduler: str) -> None:
    events: list[Event] = []
    outcome = engine.generate(_request(tiny_sd_model, scheduler=scheduler), events.append)
    assert isinstance(events[0], Started) and events[0].total == 4
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.index for s in steps] == [1, 2, 3, 4]
    assert all(s.total == 4 for s in steps)
    assert [s.elapsed for s in steps] == sorted(s.elapsed for s in steps)
    for step in steps:
        assert step.preview is not None
        assert step.preview.dtype == np.uint8 and step.preview.ndim == 3
        assert step.preview.shape[2] == 3
    assert events[-1] is outcome and isinstance(outcome, Finished)
    assert len(events) == 6
    assert outcome.images[0].size == (64, 64)
    assert len(outcome.film) == 4


def test_same_seed_same_pixels(engine: Engine, tiny_sd_model: Path) -> None:
    def pixels(seed: int) -> np.ndarray:
        outcome = engine.generate(_request(tiny_sd_model, seed=seed), lambda e: None)
        assert isinstance(outcome, Finished)
        return np.asarray(outcome.images[0])

    first, again, other = pixels(11), pixels(11), pixels(12)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_random_seed_is_recorded(engine: Engine, tiny_sd_model: Path) -> None:
    events: list[Event] = []
    outcome = engine.generate(_request(tiny_sd_model, seed=None), events.append)
    assert isinstance(outcome, Finished)
    assert outcome.request.seed is not None
    assert isinstance(events[0], Started) and events[0].request.seed == outcome.request.seed


def test_batch_makes_one_image_per_seed(engine: Engine, tiny_sd_model: Path) -> None:
    batch = engine.generate(_request(tiny_sd_model, seed=5, batch=2), lambda e: None)
    single = engine.generate(_request(tiny_sd_model, seed=6), lambda e: None)
    assert isinstance(batch, Finished) and isinstance(single, Finished)
    assert len(batch.images) == 2
    second = np.asarray(batch.images[1]).astype(int)
    # Batched kernels round differently, so the second image matches seed + 1 closely, not bitwise.
    assert np.abs(second - np.asarray(single.images[0]).astype(int)).max() <= 3
    assert np.abs(second - np.asarray(batch.images[0]).astype(int)).max() > 10


def test_cancel_mid_run_skips_the_decode(engine: Engine, tiny_sd_model: Path) -> None:
    cancel = CancelToken()
    events: list[Event] = []
    pipe = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    decodes: list[int] = []
    original = pipe.vae.decode

    def counting_decode(*args: object, **kwargs: object) -> object:
        decodes.append(1)
        return original(*args, **kwargs)

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, Step) and event.index == 2:
            cancel.cancel()

    pipe.vae.decode = counting_decode
    try:
        outcome = engine.generate(_request(tiny_sd_model, steps=10), on_event, cancel)
    finally:
        del pipe.vae.decode
    assert isinstance(outcome, Cancelled)
    assert outcome.steps_done == 2
    assert [e.index for e in events if isinstance(e, Step)] == [1, 2]
    assert decodes == []
    assert events[-1] is outcome


def test_cancel_before_start(engine: Engine, tiny_sd_model: Path) -> None:
    cancel = CancelToken()
    cancel.cancel()
    outcome = engine.generate(_request(tiny_sd_model), lambda e: None, cancel)
    assert isinstance(outcome, Cancelled) and outcome.steps_done == 0


def test_invalid_request_raises_before_starting(engine: Engine, tiny_sd_model: Path) -> None:
    events: list[Event] = []
    with pytest.raises(InvalidRequest):
        engine.generate(_request(tiny_sd_model, steps=0), events.append)
    assert events == []


def _copy_model(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: (m / "model_index.json").unlink(), "has no model_index.json"),
        (lambda m: (m / "model_index.json").write_text("{ nope"), "model_index.json is damaged"),
        (lambda m: __import__("shutil").rmtree(m / "unet"), "the unet/ folder is missing"),
        (lambda m: (m / "vae" / "config.json").unlink(), "vae/config.json is missing"),
        (
            lambda m: (m / "unet" / "diffusion_pytorch_model.safetensors").unlink(),
            "unet/ has no weights file",
        ),
        (
            lambda m: (m / "text_encoder" / "model.safetensors").write_bytes(b"\x00" * 64),
            "text_encoder/model.safetensors of the model broken is damaged",
        ),
        (
            lambda m: (m / "model_index.json").write_text(json.dumps({"_class_name": "AudioLDMPipeline"})),
            "is a AudioLDMPipeline model",
        ),
    ],
)
def test_broken_model_folders_name_the_problem(
    engine: Engine, tiny_sd_model: Path, tmp_path: Path, damage: object, message: str
) -> None:
    broken = _copy_model(tiny_sd_model, tmp_path / "broken")
    damage(broken)  # type: ignore[operator]
    with pytest.raises(ModelError, match=None) as info:
        check_model_folder(broken)
    assert message in str(info.value)
    events: list[Event] = []
    outcome = engine.generate(_request(broken), events.append)
    assert isinstance(outcome, Failed)
    assert message in outcome.message
    assert [e.kind for e in events] == ["started", "failed"]


def test_missing_model_folder(engine: Engine, tmp_path: Path) -> None:
    outcome = engine.generate(_request(tmp_path / "nowhere"), lambda e: None)
    assert isinstance(outcome, Failed)
    assert "was not found" in outcome.message


def test_pipelines_are_cached(engine: Engine, tiny_sd_model: Path) -> None:
    entry = engine.registry.resolve(str(tiny_sd_model))
    assert engine.pipeline_for(entry) is engine.pipeline_for(entry)


def test_starting_noise_is_drawn_in_fp32_whatever_the_model_dtype(tiny_sd_model: Path, tmp_path: Path) -> None:
    import torch

    from studio.engine.run.families import initial_noise

    noise = {}
    for dtype in ("fp32", "bf16"):
        engine = Engine(ModelRegistry(StudioPaths.under(tmp_path / dtype)), device="cpu", dtype=dtype)
        pipe = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
        noise[dtype] = initial_noise(pipe, [11, 12], 64, 32)
        assert noise[dtype].dtype == pipe.unet.dtype
    f = pipe.vae_scale_factor
    alone = torch.randn((1, noise["fp32"].shape[1], 64 // f, 32 // f), generator=torch.Generator().manual_seed(12))
    assert torch.equal(noise["fp32"][1:], alone)  # one seed per image, as a batch of one draws it
    assert torch.equal(noise["bf16"], noise["fp32"].to(torch.bfloat16))


def test_a_repeated_prompt_reuses_its_embeddings_with_the_same_pixels(tiny_sd_model: Path, tmp_path: Path) -> None:
    from studio.engine.run.prompts import prompt_arguments

    engine = Engine(ModelRegistry(StudioPaths.under(tmp_path)), device="cpu")
    first = engine.generate(_request(tiny_sd_model, guidance=5.0), lambda _e: None)
    pipe = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    kept = prompt_arguments(pipe, "a red circle", "", True)
    assert kept is prompt_arguments(pipe, "a red circle", "", True)  # from the cache, not re-encoded
    again = engine.generate(_request(tiny_sd_model, guidance=5.0), lambda _e: None)
    other = engine.generate(_request(tiny_sd_model, guidance=5.0, prompt="a blue square"), lambda _e: None)
    assert isinstance(first, Finished) and isinstance(again, Finished) and isinstance(other, Finished)
    assert np.array_equal(np.asarray(first.images[0]), np.asarray(again.images[0]))
    assert not np.array_equal(np.asarray(first.images[0]), np.asarray(other.images[0]))
    for i in range(20):
        prompt_arguments(pipe, f"prompt {i}", "", True)
    assert len(pipe._studio_prompt_embeddings) == 8
