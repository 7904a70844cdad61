"""Memory options: automatic plans, options applied at load, and the warm LRU cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.engine.loading.memory import GIB, MemoryOptions, plan_memory

SD15_BYTES = int(2.0 * GIB)  # SD 1.5 weights in fp16


@pytest.mark.parametrize(
    ("free_gib", "offload", "slicing"),
    [(24, "none", False), (4.5, "none", True), (2.8, "model", True), (1, "sequential", True)],
)
def test_gpu_plan_follows_free_memory(free_gib: float, offload: str, slicing: bool) -> None:
    plan = plan_memory(MemoryOptions(), "cuda", model_bytes=SD15_BYTES, family="SD 1.x",
                       memory=(int(free_gib * GIB), int(24 * GIB)))
    assert (plan.offload, plan.attention_slicing, plan.vae_tiling) == (offload, slicing, slicing)
    assert plan.reason


def test_cpu_plan_offloads_nothing_and_choices_win() -> None:
    auto = plan_memory(MemoryOptions(), "cpu", model_bytes=SD15_BYTES)
    assert (auto.offload, auto.attention_slicing, auto.vae_tiling, auto.vae_slicing) == (
        "none", False, False, True)
    chosen = plan_memory(MemoryOptions(attention_slicing=True, vae_slicing=False, offload="model"),
                         "cuda", model_bytes=SD15_BYTES, memory=(int(40 * GIB), int(80 * GIB)))
    assert (chosen.attention_slicing, chosen.vae_slicing, chosen.offload) == (True, False, "model")


def test_apple_gpus_get_attention_slicing() -> None:
    plan = plan_memory(MemoryOptions(), "mps", model_bytes=SD15_BYTES,
                       memory=(int(30 * GIB), int(32 * GIB)))
    assert plan.attention_slicing and plan.offload == "none"


def _engine(tmp_path: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    return Engine(ModelRegistry(StudioPaths.under(tmp_path / "studio")), **kwargs)  # type: ignore[arg-type]


def _run(engine, model: Path):  # type: ignore[no-untyped-def]
    from studio.engine.run.request import GenerationRequest

    request = GenerationRequest(prompt="a boat", model=str(model), steps=2, width=32, height=32,
                                seed=5)
    return engine.generate(request, lambda event: None)


def test_engine_applies_the_options_when_it_loads(tiny_sd_model: Path, tmp_path: Path) -> None:
    import torch
    from diffusers.models.attention_processor import SlicedAttnProcessor

    from studio.engine.run.events import Finished

    options = MemoryOptions(dtype="bf16", attention_slicing=True, vae_tiling=True)
    engine = _engine(tmp_path, memory=options)
    pipe = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    assert pipe.vae.use_tiling and pipe.vae.use_slicing
    processors = pipe.unet.attn_processors.values()
    assert processors and all(isinstance(p, SlicedAttnProcessor) for p in processors)
    assert pipe.unet.dtype == torch.bfloat16
    assert pipe.studio_memory_plan.attention_slicing

    engine.memory = MemoryOptions()  # changed options load the model again, without them
    plain = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    assert plain is not pipe and not plain.vae.use_tiling
    assert isinstance(_run(engine, tiny_sd_model), Finished)


def test_warm_cache_keeps_n_models_and_frees_the_oldest(tmp_path: Path) -> None:
    from studio.engine.run.events import Finished
    from tests.tiny_models import build_tiny_sd

    models = [build_tiny_sd(tmp_path / f"m{i}", seed=i) for i in range(3)]
    engine = _engine(tmp_path, cache_size=2)
    first = engine.pipeline_for(engine.registry.resolve(str(models[0])))
    engine.pipeline_for(engine.registry.resolve(str(models[1])))
    assert engine.pipeline_for(engine.registry.resolve(str(models[0]))) is first  # warm
    engine.pipeline_for(engine.registry.resolve(str(models[2])))  # evicts m1, the oldest
    records = engine.load_records
    assert [Path(r.path).name for r in records] == ["m0", "m1", "m2"]
    assert all(r.weights_bytes > 0 for r in records)
    assert engine.pipeline_for(engine.registry.resolve(str(models[0]))) is first

    second = engine.pipeline_for(engine.registry.resolve(str(models[1])))  # evicts m2
    assert len(engine.load_records) == 4
    assert [Path(r.path).name for r in engine.load_records][-1] == "m1"
    evicted_device = {p.device.type for p in first.unet.parameters()}
    assert evicted_device == {"cpu"}  # m0 was used more recently than m2: still loaded
    for model in (models[2], models[1], models[2]):  # switching back and forth still works
        assert isinstance(_run(engine, model), Finished)
    assert second is not None


def test_evicted_pipeline_gives_its_memory_back(tmp_path: Path) -> None:
    from tests.tiny_models import build_tiny_sd

    a, b = build_tiny_sd(tmp_path / "a"), build_tiny_sd(tmp_path / "b", seed=1)
    engine = _engine(tmp_path, cache_size=1)
    old = engine.pipeline_for(engine.registry.resolve(str(a)))
    engine.pipeline_for(engine.registry.resolve(str(b)))
    # The evicted pipeline's weights are released, even while something still holds it.
    assert {p.device.type for p in old.unet.parameters()} == {"meta"}
