"""The engine on an NVIDIA GPU: results match the CPU, reduced precision stays close, memory
options, the automatic memory plan, previews, cancel and out-of-memory behave on the device.

Skipped without CUDA. STUDIO_TEST_DEVICE=cpu runs the same checks on the CPU (the CUDA-only
ones skip), so the file can be checked on a machine without a GPU.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.config.paths import StudioPaths
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.errors import OOM_ADVICE
from studio.engine.loading.memory import MemoryOptions, free_memory, plan_memory
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.cancel import CancelToken
from studio.engine.run.engine import Engine
from studio.engine.run.events import Cancelled, Event, Failed, Finished, Outcome, Started, Step
from studio.engine.run.request import GenerationRequest

torch = pytest.importorskip("torch")

DEVICE = os.environ.get("STUDIO_TEST_DEVICE", "cuda")
ON_CUDA = DEVICE.startswith("cuda")
pytestmark = pytest.mark.skipif(
    ON_CUDA and not torch.cuda.is_available(),
    reason="needs an NVIDIA GPU with CUDA (STUDIO_TEST_DEVICE=cpu runs these checks on the CPU)",
)

DEMO = "studio-shapes"
REQUEST = GenerationRequest(
    "a red circle on a blue background", seed=7, steps=12, width=64, height=64, guidance=7.0,
    model=DEMO,
)
MIB = 1024**2
# Tolerances in uint8 levels, mean absolute difference over all pixels. Noise is drawn on the
# CPU, so the device starts from the same latents: exact fp32 differs only by the order of
# float sums (well under one level on average; 2 leaves room). fp16/bf16 and TF32 round every
# operation, measured at well under 1 level on the CPU; 8 is still a third of what one seed
# changes (about 24 levels), so a wrong result cannot pass.
EXACT = 2.0
REDUCED = 8.0
# bf16 keeps 8 bits of mantissa, so the linear decoder's output near white is rounded to 1-2
# levels (measured 6 on the CPU); the preview changes by about 54 levels during the run.
PREVIEW = 16.0


def _skip_unless_cuda(why: str) -> None:
    if not ON_CUDA:
        pytest.skip(f"{why}: CUDA only")


def _engine(root: Path, *, device: str = DEVICE, dtype: str | None = "fp32",
            memory: MemoryOptions | None = None, decoder: str = "linear",
            tiny: Path | None = None) -> Engine:
    paths = StudioPaths.under(root)
    # An explicit decoder: "auto" may skip previews when a step is fast.
    settings = PreviewSettings(decoder=decoder, tiny_path=tiny, cache_dir=paths.cache_dir)  # type: ignore[arg-type]
    return Engine(ModelRegistry(paths), device=device, dtype=dtype, memory=memory,
                  previews=settings)


def _pipe(engine: Engine) -> Any:
    return engine.pipeline_for(engine.registry.resolve(DEMO))


def _why(outcome: Outcome) -> str:
    return f"{outcome.message}\n{outcome.details}" if isinstance(outcome, Failed) else repr(outcome)


def _run(engine: Engine, request: GenerationRequest = REQUEST,
         cancel: CancelToken | None = None) -> tuple[Outcome, list[Step]]:
    events: list[Event] = []
    outcome = engine.generate(request, events.append, cancel)
    assert isinstance(events[0], Started) and events[-1] is outcome
    return outcome, [e for e in events if isinstance(e, Step)]


def _images(engine: Engine, request: GenerationRequest = REQUEST) -> list[np.ndarray]:
    outcome, steps = _run(engine, request)
    assert isinstance(outcome, Finished), _why(outcome)
    assert [s.index for s in steps] == list(range(1, request.steps + 1))
    assert [im.size for im in outcome.images] == [(request.width, request.height)] * request.batch
    return [np.asarray(im).astype(np.int16) for im in outcome.images]


def _image(engine: Engine, request: GenerationRequest = REQUEST) -> np.ndarray:
    return _images(engine, request)[0]


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@contextlib.contextmanager
def _exact_fp32() -> Iterator[None]:
    """fp32 without TF32: torch lets cuDNN round fp32 convolutions to TF32 by default (fp32
    matmuls are exact by default). The one switch that covers every torch version; mixing it
    with the newer per-operator switches makes torch raise when either is read."""
    cudnn = torch.backends.cudnn
    saved = cudnn.allow_tf32
    cudnn.allow_tf32 = False
    try:
        yield
    finally:
        cudnn.allow_tf32 = saved


@contextlib.contextmanager
def _spy(obj: Any, name: str) -> Iterator[list[Any]]:
    """Record every result of `obj.name(...)` while the block runs."""
    original = getattr(obj, name)
    results: list[Any] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        results.append(result)
        return result

    setattr(obj, name, recording)
    try:
        yield results
    finally:
        delattr(obj, name)


@pytest.fixture(scope="module")
def cpu_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return _engine(tmp_path_factory.mktemp("cpu"), device="cpu")


@pytest.fixture(scope="module")
def device_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return _engine(tmp_path_factory.mktemp("device"))


@pytest.fixture(scope="module")
def reference(device_engine: Engine) -> np.ndarray:
    """The demo request on the device in exact fp32."""
    with _exact_fp32():
        return _image(device_engine)


@pytest.fixture(scope="module")
def seed_gap(device_engine: Engine, reference: np.ndarray) -> float:
    """How far another seed moves the image: the scale that "close" is measured against."""
    with _exact_fp32():
        return _diff(reference, _image(device_engine, REQUEST.replace(seed=8)))


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random-weight AutoencoderTiny whose decoder upsamples 4x, like the demo's VAE."""
    from diffusers import AutoencoderTiny

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("taesd") / "taesd"
    AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8), decoder_block_out_channels=(8, 8, 8),
        num_encoder_blocks=(1, 1, 1), num_decoder_blocks=(1, 1, 1), latent_channels=4,
    ).save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.mark.parametrize("precision", ["exact", "tf32"])
def test_device_fp32_matches_the_cpu(
    precision: str, cpu_engine: Engine, device_engine: Engine, reference: np.ndarray,
    seed_gap: float,
) -> None:
    on_cpu = _image(cpu_engine)
    if precision == "exact":
        on_device, tolerance = reference, EXACT
    else:  # torch's defaults, what an fp32 run in the app gets
        on_device, tolerance = _image(device_engine), REDUCED
    diff = _diff(on_device, on_cpu)
    print(f"{DEVICE} fp32 ({precision}) vs CPU: {diff:.3f} levels; another seed: {seed_gap:.1f}")
    assert on_cpu.std() > 10, "the demo draws a shape, not a blank image"
    assert diff <= tolerance and diff < seed_gap / 3


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_reduced_precision_is_finite_and_close_to_fp32(
    dtype: str, tmp_path: Path, reference: np.ndarray, seed_gap: float
) -> None:
    if dtype == "bf16" and ON_CUDA and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    engine = _engine(tmp_path, dtype=dtype)
    pipe = _pipe(engine)
    expected = {"fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    assert pipe.unet.dtype == expected and pipe.unet.device.type == torch.device(DEVICE).type
    with _spy(pipe.vae, "decode") as decoded:
        image = _image(engine)
    assert len(decoded) == 1
    sample = decoded[0][0] if isinstance(decoded[0], tuple) else decoded[0].sample
    assert sample.dtype == expected and bool(torch.isfinite(sample).all()), f"{dtype}: NaN or inf"
    diff = _diff(image, reference)
    print(f"{DEVICE} {dtype} vs fp32: {diff:.3f} levels; another seed: {seed_gap:.1f}")
    assert image.std() > 10, f"{dtype} gave a blank image"
    assert diff <= REDUCED and diff < seed_gap / 3


def test_default_precision_follows_the_device(tmp_path: Path) -> None:
    engine = _engine(tmp_path, dtype=None)
    if ON_CUDA:
        best = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        assert engine.dtype == best
    else:
        assert engine.dtype == torch.float32
    assert _pipe(engine).unet.dtype == engine.dtype


@pytest.mark.parametrize("dtype", ["fp32", None], ids=["fp32", "default"])
def test_same_seed_same_pixels(dtype: str | None, tmp_path: Path) -> None:
    engine = _engine(tmp_path, dtype=dtype)
    first, again = _image(engine), _image(engine)
    other = _image(engine, REQUEST.replace(seed=8))
    assert np.array_equal(first, again), f"max difference {np.abs(first - again).max()} levels"
    assert not np.array_equal(first, other)


# Each option with the request that makes it do something: VAE tiling needs an image larger
# than one tile (the demo VAE's tile is 64 px), VAE slicing a batch of more than one.
MEMORY_CASES = {
    "model offload": (MemoryOptions(offload="model"), REQUEST),
    "sequential offload": (MemoryOptions(offload="sequential"), REQUEST),
    "attention slicing": (MemoryOptions(attention_slicing=True), REQUEST),
    "vae tiling": (MemoryOptions(vae_tiling=True), REQUEST.replace(width=128, height=128)),
    "vae slicing": (MemoryOptions(vae_slicing=True), REQUEST.replace(batch=2)),
}


@pytest.mark.parametrize("case", list(MEMORY_CASES))
def test_memory_options_give_the_cpu_result(case: str, tmp_path: Path) -> None:
    """The device with the option matches the CPU with the same option (the CPU ignores
    offload), and the option really is in force."""
    if "offload" in case and importlib.util.find_spec("accelerate") is None:
        pytest.skip("CPU offload needs the accelerate package")
    options, request = MEMORY_CASES[case]
    engine = _engine(tmp_path / "device", memory=options)
    on_cpu = _images(_engine(tmp_path / "cpu", device="cpu", memory=options), request)
    pipe = _pipe(engine)
    assert pipe.studio_memory_plan.offload == (options.offload or "none")
    with _exact_fp32(), _spy(pipe.vae, "tiled_decode") as tiled, \
            _spy(pipe.vae, "_decode") as decodes:
        on_device = _images(engine, request)
    diffs = [_diff(a, b) for a, b in zip(on_device, on_cpu, strict=True)]
    print(f"{DEVICE} {case} vs CPU: {diffs} levels")
    assert max(diffs) <= EXACT
    if case == "vae tiling":
        assert pipe.vae.use_tiling and tiled, "the VAE decoded in tiles"
    if case == "vae slicing":
        assert pipe.vae.use_slicing and len(decodes) == 2, "one VAE decode per image"
    if case == "attention slicing":
        from diffusers.models.attention_processor import SlicedAttnProcessor

        processors = list(pipe.unet.attn_processors.values())
        assert processors and all(isinstance(p, SlicedAttnProcessor) for p in processors)
    if "offload" in case:
        where = {p.device.type for p in pipe.unet.parameters()}
        if ON_CUDA:
            # accelerate's hooks move the weights in for each use and out again after
            assert hasattr(pipe.unet, "_hf_hook")
            assert pipe._execution_device.type == "cuda"
            if case == "model offload":
                assert where == {"cpu"}, "the pipeline hands every model back after the run"
            else:
                assert "cuda" not in where, "layers visit the GPU only while they run"
        else:
            assert not hasattr(pipe.unet, "_hf_hook") and where == {"cpu"}


def test_automatic_plan_keeps_the_demo_on_the_gpu(tmp_path: Path) -> None:
    _skip_unless_cuda("free device memory comes from torch.cuda.mem_get_info")
    engine = _engine(tmp_path, dtype=None)
    entry = engine.registry.resolve(DEMO)
    pipe = engine.pipeline_for(entry)
    record = engine.load_records[-1]
    memory = free_memory(DEVICE)
    assert memory is not None
    free, total = memory
    assert 0 < free <= total
    print(f"free {free / MIB:.0f} of {total / MIB:.0f} MiB; weights "
          f"{record.weights_bytes / MIB:.1f} MiB; plan {record.plan}")
    for plan in (record.plan, plan_memory(MemoryOptions(), DEVICE, model_bytes=record.weights_bytes,
                                          family=entry.family, memory=memory)):
        assert (plan.offload, plan.attention_slicing, plan.vae_tiling) == ("none", False, False)
        assert plan.reason == "fits with room to spare"
    assert {p.device.type for p in pipe.unet.parameters()} == {"cuda"}
    assert not hasattr(pipe.unet, "_hf_hook")
    assert isinstance(_run(engine)[0], Finished)


@pytest.mark.parametrize("decoder", ["linear", "tiny", "full", "auto"])
def test_previews_on_the_device(decoder: str, tmp_path: Path, tiny_folder: Path) -> None:
    """Every step's preview in the device's default precision; each matches the same
    decoder's preview of the same run on the CPU in fp32."""
    engine = _engine(tmp_path / "device", dtype=None, decoder=decoder, tiny=tiny_folder)
    outcome, steps = _run(engine)
    assert isinstance(outcome, Finished), _why(outcome)
    previewer = next(iter(engine._previewers.values()))
    assert previewer.note == "" and "linear" in previewer.decoders
    assert len(outcome.film) == REQUEST.steps
    shape = {"linear": (16, 16, 3), "tiny": (64, 64, 3), "full": (64, 64, 3)}
    shown = [s for s in steps if s.preview is not None]
    assert steps[0].preview is not None and steps[-1].preview is not None
    for step in shown:
        assert step.preview.dtype == np.uint8 and step.preview.shape in shape.values()
    assert sum(s.preview_seconds for s in shown) > 0
    if decoder == "auto":
        assert previewer.last_decoder in ("linear", "tiny")
        assert "tiny" in previewer.decoders  # found through the preview settings' folder
        return
    assert len(shown) == REQUEST.steps and previewer.last_decoder == decoder
    assert {s.preview.shape for s in shown} == {shape[decoder]}
    if decoder != "linear":
        used = previewer.decoders[decoder]
        param = next((used.model if decoder == "tiny" else used.vae).parameters())
        assert param.device.type == torch.device(DEVICE).type and param.dtype == engine.dtype
    cpu = _engine(tmp_path / "cpu", device="cpu", decoder=decoder, tiny=tiny_folder)
    cpu_outcome, cpu_steps = _run(cpu)
    assert isinstance(cpu_outcome, Finished), _why(cpu_outcome)
    diffs = [_diff(a.preview, b.preview) for a, b in zip(steps, cpu_steps, strict=True)]
    change = _diff(cpu_steps[0].preview, cpu_steps[-1].preview)
    # Reduced precision perturbs the trajectory, and the perturbation grows step by step, so a
    # fixed level bound per step is wrong. The principled scale is what another seed changes at
    # that same step on the CPU: rounding noise must stay well inside it (a third), while a wrong
    # decoder, latent scale or channel order lands at or beyond it.
    _, other_steps = _run(cpu, REQUEST.replace(seed=REQUEST.seed + 1))
    seed_change = [_diff(a.preview, b.preview) for a, b in zip(cpu_steps, other_steps, strict=True)]
    print(f"{DEVICE} {engine.dtype} {decoder} previews vs CPU fp32, per step: "
          f"{[round(d, 2) for d in diffs]}; another seed: {[round(d, 2) for d in seed_change]}; "
          f"first to last step: {change:.1f}")
    for index, (diff, scale) in enumerate(zip(diffs, seed_change, strict=True), start=1):
        assert diff <= max(PREVIEW, scale / 3), f"step {index}: {diff:.2f} vs another seed {scale:.2f}"
    assert max(diffs) < change / 3
    assert _diff(steps[0].preview, steps[-1].preview) > 0, "the preview follows the run"


def test_cancel_mid_run_skips_the_decode(tmp_path: Path) -> None:
    engine = _engine(tmp_path, dtype=None)
    pipe = _pipe(engine)
    cancel = CancelToken()
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, Step) and event.index == 3:
            cancel.cancel()

    with _spy(pipe.vae, "decode") as decodes:
        outcome = engine.generate(REQUEST, on_event, cancel)
    assert isinstance(outcome, Cancelled), _why(outcome)
    assert outcome.steps_done == 3
    assert [e.index for e in events if isinstance(e, Step)] == [1, 2, 3]
    assert decodes == [] and events[-1] is outcome
    assert isinstance(_run(engine)[0], Finished)  # the next run is unaffected


def test_out_of_memory_becomes_advice_and_the_engine_recovers(tmp_path: Path) -> None:
    _skip_unless_cuda("a real out-of-memory needs CUDA's per-process memory cap")
    engine = _engine(tmp_path)
    before = _image(engine)  # loads the model and warms the kernels
    torch.cuda.synchronize()
    gc.collect()
    torch.cuda.empty_cache()
    allocated = torch.cuda.memory_allocated()
    total = torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
    # 128 MiB over what is held now; the first convolution of this request alone needs 512
    # (16 latents with guidance x 32 channels x 512 x 512 x 4 bytes).
    cap = (torch.cuda.memory_reserved() + 128 * MIB) / total
    previous = getattr(torch.cuda, "get_per_process_memory_fraction", lambda: 1.0)()
    huge = REQUEST.replace(width=2048, height=2048, batch=8, steps=2)
    events: list[Event] = []
    try:
        torch.cuda.set_per_process_memory_fraction(cap)
        outcome = engine.generate(huge, events.append)
    finally:
        torch.cuda.set_per_process_memory_fraction(previous)
        gc.collect()
        torch.cuda.empty_cache()
    assert isinstance(outcome, Failed), _why(outcome)
    assert outcome.message == OOM_ADVICE, outcome.details
    assert "out of memory" in outcome.details.lower()
    assert isinstance(events[0], Started) and events[-1] is outcome
    assert not any(isinstance(e, Finished) for e in events)
    leaked = torch.cuda.memory_allocated() - allocated
    print(f"after the out-of-memory: {leaked / MIB:.1f} MiB more allocated than before")
    assert leaked < 64 * MIB, "the failed run's tensors were freed"
    assert _diff(_image(engine), before) <= EXACT, "the engine works as before"
