"""Preview cost per decoder (% of a denoising step) and the app's overhead against bare diffusers.

Measured side by side in one run, on the bundled demo model (when present) and on a full-size
SD 1.5 architecture with random weights (same cost per step as the real one) at 256x256 on
the CPU. Overhead: the engine with a preview every step against a bare `pipe(...)` with the
same model, steps, size and seed; runs interleaved, medians compared.
"""

from __future__ import annotations

import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

DEMO_ID = "studio-shapes"
BUDGET_PCT = {"linear": 2.0, "tiny": 8.0, "full": None}


def _figure(value: float | None, target: float | None, unit: str = "%", note: str = "") -> dict[str, Any]:
    return {"value": None if value is None else round(value, 3), "target": target, "unit": unit,
            "better": "lower", "note": note}


def _sd15_pipe() -> Any:
    """SD 1.5's architecture from its config, random weights; a byte-level CLIP tokenizer."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tests.tiny_models import byte_level_vocab

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
        cross_attention_dim=768, attention_head_dim=8,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    )
    vae = AutoencoderKL(
        block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=512, scaling_factor=0.18215,
    )
    tokenizer = CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=77)
    text = CLIPTextModel(CLIPTextConfig(
        hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
        projection_dim=768, max_position_embeddings=77, vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
        timestep_spacing="leading",
    )
    pipe = StableDiffusionPipeline(
        unet=unet.eval(), vae=vae.eval(), text_encoder=text.eval(), tokenizer=tokenizer,
        scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _config_folder(pipe: Any, folder: Path) -> Path:
    """A model folder with the pipeline's configs only: enough for the registry to name it."""
    folder.mkdir(parents=True, exist_ok=True)
    index = {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1"}
    index.update({k: list(v) for k, v in pipe.config.items() if isinstance(v, (list, tuple))})
    (folder / "model_index.json").write_text(json.dumps(index))
    pipe.unet.save_config(str(folder / "unet"))
    return folder


def _engine_with(pipe: Any, folder: Path, root: Path) -> Any:
    """An engine whose pipeline cache already holds `pipe` for `folder` (no weights on disk)."""
    from studio.config.paths import StudioPaths
    from studio.engine.engine import Engine
    from studio.engine.models import ModelRegistry
    from studio.engine.previews.previewer import PreviewSettings

    paths = StudioPaths.under(root / "studio")
    engine = Engine(ModelRegistry(paths), device="cpu", dtype="fp32",
                    previews=PreviewSettings(cache_dir=paths.cache_dir))
    engine.warm_up()
    cache = engine._cache
    key = (str(folder.resolve()), engine.device, str(engine.dtype), cache.memory)
    cache._pipes[key] = pipe
    return engine


def _time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _step_seconds(pipe: Any, kwargs: dict[str, Any]) -> tuple[float, Any]:
    """Median step time of a bare run (callback timestamps only), and the last x0 latents."""
    import torch

    from studio.engine.previews.x0 import X0Capture

    capture = X0Capture(pipe.scheduler)
    stamps: list[float] = []
    x0: list[Any] = []

    def on_step(_p: Any, _i: int, _t: Any, _d: dict[str, Any]) -> dict[str, Any]:
        stamps.append(time.perf_counter())
        x0.append(capture.take())
        return {}

    pipe(**kwargs, generator=torch.Generator().manual_seed(1), callback_on_step_end=on_step,
         output_type="latent")
    del pipe.scheduler.step  # drop the capture wrapper again
    return statistics.median(b - a for a, b in itertools.pairwise(stamps)), x0[-1]


def _decoder_costs(pipe: Any, family: str, latents: Any, repeats: int) -> dict[str, float]:
    import torch
    from diffusers import AutoencoderTiny

    from studio.engine.previews.decoders import FullDecoder, TinyDecoder
    from studio.engine.previews.linear import fit_linear, known_decoder

    linear = known_decoder(family, latents.shape[1]) or fit_linear(pipe.vae)
    torch.manual_seed(0)
    tiny = TinyDecoder(AutoencoderTiny(latent_channels=latents.shape[1]).eval())  # TAESD's size
    decoders = {"linear": linear, "tiny": tiny, "full": FullDecoder(pipe.vae)}
    out = {}
    for name, decoder in decoders.items():
        decoder.decode(latents[0])  # first-use costs
        out[name] = _time(lambda d=decoder: d.decode(latents[0]), repeats if name != "full" else 2)
    return out


def _overhead(pipe: Any, engine: Any, folder: Path, request: Any, pairs: int) -> float:
    """% slower: the engine (previews on) against bare pipe(...), interleaved, medians."""
    import torch

    from studio.engine.scheduling import build_scheduler

    base = pipe.scheduler.config
    bare_kwargs = dict(
        prompt=request.prompt, num_inference_steps=request.steps, guidance_scale=request.guidance,
        width=request.width, height=request.height, output_type="pil",
    )
    bare, app = [], []
    for _ in range(pairs):
        pipe.scheduler = build_scheduler(request.scheduler, base)
        started = time.perf_counter()
        pipe(**bare_kwargs, generator=[torch.Generator("cpu").manual_seed(request.seed)])
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        outcome = engine.generate(request.replace(model=str(folder)), lambda _e: None)
        app.append(time.perf_counter() - started)
        assert outcome.kind == "finished", outcome
    pipe.scheduler = build_scheduler(request.scheduler, base)
    return (statistics.median(app) / statistics.median(bare) - 1) * 100


def _measure(label: str, pipe: Any, family: str, folder: Path, engine: Any, request: Any,
             repeats: int, pairs: int) -> dict[str, dict[str, Any]]:
    kwargs = dict(prompt=request.prompt, num_inference_steps=request.steps,
                  guidance_scale=request.guidance, width=request.width, height=request.height)
    engine.generate(request.replace(model=str(folder), steps=2), lambda _e: None)  # warm, fits
    step, x0 = _step_seconds(pipe, kwargs)
    costs = _decoder_costs(pipe, family, x0, repeats)
    size = f"{request.width}x{request.height}"
    figures = {
        f"{label} {name} preview cost": _figure(
            100 * cost / step, BUDGET_PCT[name],
            note=f"{cost * 1000:.1f} ms per preview, step {step * 1000:.0f} ms, {size}, CPU",
        )
        for name, cost in costs.items()
    }
    figures[f"{label} app overhead vs bare diffusers"] = _figure(
        _overhead(pipe, engine, folder, request, pairs), 2.0,
        note=f"{request.steps} steps, {size}, previews every step (auto), medians of {pairs} "
             "interleaved runs",
    )
    return figures


def run(args: Any) -> dict[str, dict[str, Any]]:
    import torch

    from studio.config.paths import bundled_models_dir
    from studio.engine.request import GenerationRequest

    torch.set_num_threads(2)
    quick = bool(getattr(args, "quick", False))
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = bundled_models_dir() / DEMO_ID
        if (demo / "model_index.json").is_file():
            from studio.config.paths import StudioPaths
            from studio.engine.engine import Engine
            from studio.engine.models import ModelRegistry
            from studio.engine.previews.previewer import PreviewSettings

            paths = StudioPaths.under(root / "demo")
            engine = Engine(ModelRegistry(paths), device="cpu", dtype="fp32",
                            previews=PreviewSettings(cache_dir=paths.cache_dir))
            entry = engine.registry.resolve(DEMO_ID)
            pipe = engine.pipeline_for(entry)
            request = GenerationRequest(prompt="a red circle on a blue background", steps=10,
                                        width=64, height=64, seed=3, guidance=4.0)
            figures.update(_measure("demo", pipe, entry.family, entry.path, engine, request,
                                    5 if quick else 15, 3 if quick else 7))
        else:
            figures["demo app overhead vs bare diffusers"] = _figure(
                None, 2.0, note="the bundled demo model is not installed")
        pipe = _sd15_pipe()
        folder = _config_folder(pipe, root / "sd15-architecture")
        engine = _engine_with(pipe, folder, root)
        request = GenerationRequest(prompt="a lighthouse at dusk", steps=3, width=256, height=256,
                                    seed=3, guidance=7.0)
        figures.update(_measure("SD 1.5", pipe, "SD 1.x", folder, engine, request,
                                3 if quick else 5, 2 if quick else 3))
    return figures


if __name__ == "__main__":
    import argparse
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    for key, fig in run(parser.parse_args()).items():
        print(f"{key:45s} {fig['value']!s:>10} {fig['unit']:3s} target {fig['target']}  {fig['note']}")
