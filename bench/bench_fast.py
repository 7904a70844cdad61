"""The fast path against bare diffusers and Studio's plain path, side by side in one run.

    python bench/bench_fast.py                     # CPU: demo model at 64x64, SD 1.5 UNet at 256x256
    python bench/bench_fast.py --quick             # fewer steps and repeats
    python bench/bench_fast.py --device cuda       # fp16: demo, SD 1.5 at 512x512, batch 1 and 4
    python bench/run.py --only fast [--device cuda]

For each model: steps per second of a bare diffusers `pipe(...)`, Studio plain and Studio fast
(the three take turns in each repeat; median and min-max over the repeats), the largest pixel
difference fast against plain (same seed), how many graphs compile when only the prompt, seed,
guidance or step count change (torch._dynamo's counters), the FLOPs of one UNet call (the
guidance batch) counted once with FlopCounterMode, the GFLOP/s each path reaches, and peak
memory (the rise of the process's peak resident set on the CPU, torch.cuda.max_memory_allocated
on CUDA, over what was held before the run). The SD 1.5 model has SD 1.5's UNet (random weights)
with a one-layer text encoder; on the CPU its VAE is narrower than SD 1.5's so that a decode does
not dwarf the steps (steps per second do not include it).
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results_fast.json"
DEMO = ROOT / "resources" / "models" / "studio-shapes"
PROMPT = "a red circle on a blue background"
# dense fp16/bf16 tensor-core peaks, TFLOP/s, for the achieved fraction
GPU_PEAKS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "L4": 121.0, "4090": 165.0}


def build_sd15(folder: Path, *, full_vae: bool) -> Path:
    """SD 1.5's UNet config with random weights, a one-layer CLIP text encoder of SD 1.5's width."""
    if (folder / "model_index.json").is_file():
        return folder
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    sys.path.insert(0, str(ROOT))
    from tests.tiny_models import byte_level_vocab

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=768, attention_head_dim=8,
    )
    widths = (128, 256, 512, 512) if full_vae else (32, 64, 64, 64)
    vae = AutoencoderKL(
        block_out_channels=widths, layers_per_block=2, latent_channels=4, sample_size=512,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=32,
    )
    tokenizer = CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=77)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, hidden_size=768, intermediate_size=3072,
        num_attention_heads=12, num_hidden_layers=1, vocab_size=len(tokenizer), max_position_embeddings=77,
    ))
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              skip_prk_steps=True, steps_offset=1)
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


class Memory:
    """Peak memory of one call, over what was held before it."""

    def __init__(self, device: str) -> None:
        self.device = device

    def reset(self) -> float:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return float(torch.cuda.memory_allocated())
        Path("/proc/self/clear_refs").write_text("5")  # the peak resident set starts again from now
        return _status_kb("VmRSS") * 1024.0

    def peak(self) -> float:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            return float(torch.cuda.max_memory_allocated())
        return _status_kb("VmHWM") * 1024.0


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise KeyError(key)


class Bare:
    """A bare diffusers pipeline, timed by its own step callback."""

    def __init__(self, folder: Path, device: str, dtype: Any) -> None:
        from diffusers import StableDiffusionPipeline

        self.pipe = StableDiffusionPipeline.from_pretrained(str(folder), dtype=dtype).to(device)
        self.pipe.set_progress_bar_config(disable=True)

    def run(self, seed: int, steps: int, size: int, batch: int, guidance: float) -> tuple[list[float], Any]:
        import torch

        stamps: list[float] = []

        def on_step(_p: Any, _i: int, _t: Any, kw: dict[str, Any]) -> dict[str, Any]:
            _sync()
            stamps.append(time.perf_counter())
            return kw

        generator = [torch.Generator("cpu").manual_seed(seed + i) for i in range(batch)]
        with torch.inference_mode():
            out = self.pipe(PROMPT, num_inference_steps=steps, guidance_scale=guidance, generator=generator,
                            height=size, width=size, num_images_per_prompt=batch, output_type="np",
                            callback_on_step_end=on_step)
        return stamps, (out.images[0] * 255).round().astype("uint8")


class Studio:
    """Studio's engine on the model, plain or on the fast path, timed by its Step events."""

    def __init__(self, folder: Path, device: str, dtype: str, home: Path, fast: bool, backend: str,
                 engine: str = "auto") -> None:
        from studio.config.paths import StudioPaths
        from studio.engine.catalogue.registry import ModelRegistry
        from studio.engine.loading.fast_path import FastPath, FastPathOptions
        from studio.engine.previews.previewer import PreviewSettings
        from studio.engine.run.engine import Engine

        paths = StudioPaths.under(home)
        self.engine = Engine(ModelRegistry(paths), device=device, dtype=dtype,
                             previews=PreviewSettings(decoder="linear"))
        self.folder = folder
        if fast:
            options = FastPathOptions(backend=backend, cache_dir=paths.cache_dir, engine=engine)
            self.engine.fast_path = FastPath(models=(str(folder),), options=options)

    def request(self, seed: int, steps: int, size: int, batch: int, guidance: float, prompt: str = PROMPT) -> Any:
        from studio.engine.run.request import GenerationRequest

        return GenerationRequest(prompt, seed=seed, steps=steps, guidance=guidance, width=size, height=size,
                                 batch=batch, model=str(self.folder))

    def run(self, seed: int, steps: int, size: int, batch: int, guidance: float,
            prompt: str = PROMPT) -> tuple[list[float], Any]:
        import numpy as np

        from studio.engine.run.events import Finished, Step

        stamps: list[float] = []

        def sink(event: Any) -> None:
            if isinstance(event, Step):
                _sync()
                stamps.append(time.perf_counter())

        outcome = self.engine.generate(self.request(seed, steps, size, batch, guidance, prompt), sink)
        if not isinstance(outcome, Finished):
            raise RuntimeError(f"the Studio run did not finish: {outcome}")
        return stamps, np.asarray(outcome.images[0])

    def unet(self) -> Any:
        return self.engine.pipeline_for(self.engine.registry.resolve(str(self.folder))).unet


def _sync() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _rate(stamps: list[float]) -> float:
    """Steps per second from the step-to-step intervals (set-up and the first step left out)."""
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    return 1.0 / statistics.median(gaps) if gaps else float("nan")


def _unet_flops(unet: Any, size: int, batch: int, tokens: int, width: int, device: str, dtype: Any) -> int:
    """FLOPs of one UNet call with the guidance batch (prompt and negative), counted once."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    latent = size // 8
    sample = torch.randn(2 * batch, unet.config.in_channels, latent, latent, device=device, dtype=dtype)
    context = torch.randn(2 * batch, tokens, width, device=device, dtype=dtype)
    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        unet(sample, torch.tensor(500, device=device), encoder_hidden_states=context)
    return int(counter.get_total_flops())


def _graphs() -> int:
    from torch._dynamo.utils import counters

    return int(counters["frames"]["total"]) + int(counters["stats"]["unique_graphs"])


def measure(name: str, folder: Path, args: argparse.Namespace, size: int, batch: int) -> dict[str, Any]:
    """The three paths on one model at one size and batch, taking turns in each repeat."""
    import numpy as np
    import torch

    device, steps, repeats = args.device, args.steps, args.repeats
    dtype = torch.float16 if device == "cuda" else torch.float32
    dtype_name = "fp16" if device == "cuda" else "fp32"
    guidance = 7.5
    home = Path(tempfile.mkdtemp(prefix=f"studio-bench-fast-{name}-"))
    bare = Bare(folder, device, dtype)
    plain = Studio(folder, device, dtype_name, home / "plain", fast=False, backend=args.backend)
    fast = Studio(folder, device, dtype_name, home / "fast", fast=True, backend=args.backend, engine=args.engine)
    memory = Memory(device)
    paths: dict[str, Any] = {"bare": bare, "plain": plain, "fast": fast}
    for path in paths.values():  # loads, first-call costs and fast's compile, off the clock
        path.run(1, 2, size, batch, guidance)
    started = time.perf_counter()
    fast.run(1, 2, size, batch, guidance)
    warm_fast_s = time.perf_counter() - started
    rates: dict[str, list[float]] = {key: [] for key in paths}
    peaks: dict[str, float] = {}
    images: dict[str, Any] = {}
    for _repeat in range(repeats):
        for key, path in paths.items():
            before = memory.reset()
            stamps, image = path.run(7, steps, size, batch, guidance)
            peaks[key] = max(peaks.get(key, 0.0), memory.peak() - before)
            rates[key].append(_rate(stamps))
            images[key] = image
    # what compiles when only the prompt, seed, guidance or step count change
    fast_path = fast.engine.fast_path
    graphs = _graphs() + fast_path.openvino_conversions
    fast.run(8, steps, size, batch, guidance)
    fast.run(8, steps, size, batch, guidance, prompt="a blue square at the top, in the evening")
    fast.run(8, steps, size, batch, 4.0)
    fast.run(8, steps + 1, size, batch, guidance)
    recompiles = _graphs() + fast_path.openvino_conversions - graphs
    engine_used = "openvino" if fast_path._openvino is not None else args.backend
    text_encoder = bare.pipe.text_encoder
    flops = _unet_flops(plain.unet(), size, batch, bare.pipe.tokenizer.model_max_length,
                        text_encoder.config.hidden_size, device, dtype)
    difference = np.abs(images["fast"].astype(np.int16) - images["plain"].astype(np.int16))
    bare_difference = np.abs(images["bare"].astype(np.int16) - images["plain"].astype(np.int16))
    median = {key: statistics.median(values) for key, values in rates.items()}
    row: dict[str, Any] = {
        "model": name, "size": size, "batch": batch, "steps": steps, "repeats": repeats, "dtype": dtype_name,
        "backend": engine_used, "device": _device_name(device),
        "steps_per_s": {key: {"median": median[key], "min": min(v), "max": max(v)} for key, v in rates.items()},
        "fast_vs_bare": median["fast"] / median["bare"], "plain_vs_bare": median["plain"] / median["bare"],
        "fast_vs_plain": median["fast"] / median["plain"],
        "fast_max_pixel_difference": int(difference.max()), "fast_mean_pixel_difference": float(difference.mean()),
        "plain_vs_bare_max_pixel_difference": int(bare_difference.max()),
        "compiles_after_changes": recompiles, "unet_gflop": flops / 1e9,
        "gflop_per_s": {key: flops / 1e9 * value for key, value in median.items()},
        "peak_mb": {key: value / 2**20 for key, value in peaks.items()},
        "fast_warm_image_s": warm_fast_s,
    }
    peak = _peak_tflops(device)
    if peak:
        row["fast_peak_fraction"] = row["gflop_per_s"]["fast"] / 1e3 / peak
    del bare, plain, fast, paths
    if device == "cuda":
        torch.cuda.empty_cache()
    return row


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return str(torch.cuda.get_device_name())
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _peak_tflops(device: str) -> float | None:
    if device != "cuda":
        return None
    name = _device_name(device)
    return next((peak for key, peak in GPU_PEAKS.items() if key in name), None)


def _configs(args: argparse.Namespace, cache: Path) -> list[tuple[str, Path, int, int]]:
    models = args.models.split(",")
    configs: list[tuple[str, Path, int, int]] = []
    if "demo" in models and (DEMO / "model_index.json").is_file():
        configs.append(("demo", DEMO, 64, 1))
    if "sd15" in models:
        cuda = args.device == "cuda"
        folder = build_sd15(cache / ("sd15-full-vae" if cuda else "sd15-narrow-vae"), full_vae=cuda)
        size = args.size or (512 if cuda else 256)
        for batch in (1, 4) if cuda else (1,):
            configs.append(("sd15", folder, size, batch))
    return configs


def _figure(value: float, unit: str, better: str, note: str, target: float | None = None) -> dict[str, Any]:
    return {"value": round(value, 4), "target": target, "unit": unit, "better": better, "note": note}


def figures_of(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rows as run.py's flat figures."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        key = f"{row['model']}_{row['size']}_b{row['batch']}"
        note = f"{row['device']}, {row['dtype']}, {row['steps']} steps, median of {row['repeats']}"
        gpu = "cuda" in str(row["device"]).lower() or row["dtype"] == "fp16"
        for path, rate in row["steps_per_s"].items():
            out[f"{key}_{path}_steps_per_s"] = _figure(
                rate["median"], "steps/s", "higher", f"{note}; min {rate['min']:.3g}, max {rate['max']:.3g}")
        out[f"{key}_fast_vs_bare"] = _figure(row["fast_vs_bare"], "ratio", "higher",
                                             f"{row['backend']} backend", 1.9 if gpu else None)
        out[f"{key}_plain_vs_bare"] = _figure(row["plain_vs_bare"], "ratio", "higher", "Studio's overhead", 0.98)
        out[f"{key}_fast_max_pixel_difference"] = _figure(
            row["fast_max_pixel_difference"], "uint8 levels", "lower",
            f"same seed, fast vs plain; mean {row['fast_mean_pixel_difference']:.3f}")
        out[f"{key}_compiles_after_changes"] = _figure(
            row["compiles_after_changes"], "graphs", "lower", "prompt, seed, guidance, steps changed", 0)
        out[f"{key}_unet_gflop"] = _figure(row["unet_gflop"], "GFLOP", "lower", "one UNet call, guidance batch")
        for path, rate in row["gflop_per_s"].items():
            out[f"{key}_{path}_gflop_per_s"] = _figure(rate, "GFLOP/s", "higher", "UNet FLOPs x steps/s")
        if "fast_peak_fraction" in row:
            out[f"{key}_fast_peak_fraction"] = _figure(row["fast_peak_fraction"], "ratio", "higher",
                                                       "of the device's dense fp16 peak", 0.5)
        for path, mb in row["peak_mb"].items():
            out[f"{key}_{path}_peak_mb"] = _figure(mb, "MB", "lower", "rise over what was held before the run")
    return out


def run(args: Any) -> dict[str, dict[str, Any]]:
    import torch

    quick = getattr(args, "quick", False)
    options = argparse.Namespace(
        device=getattr(args, "device", "cpu"), models=getattr(args, "models", "demo,sd15"),
        steps=getattr(args, "steps", None) or (4 if quick else 8),
        repeats=getattr(args, "repeats", None) or (2 if quick else 5),
        backend=getattr(args, "backend", "inductor"), size=getattr(args, "size", None),
        engine=getattr(args, "engine", "auto"),
        threads=getattr(args, "threads", 2),
    )
    torch.set_num_threads(options.threads)
    sys.path.insert(0, str(ROOT))
    cache = Path(tempfile.gettempdir()) / "studio-bench-fast-models"
    started = time.perf_counter()
    rows = [measure(name, folder, options, size, batch)
            for name, folder, size, batch in _configs(options, cache)]
    _print(rows)
    figures = figures_of(rows)
    RESULTS.write_text(json.dumps({"fast": {
        "rows": rows, "figures": figures, "measured": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}",
    }}, indent=2, sort_keys=True) + "\n")
    return figures


def _print(rows: list[dict[str, Any]]) -> None:
    head = f"{'model':<16}{'path':<7}{'steps/s':>9}{'min':>8}{'max':>8}{'x bare':>8}{'GFLOP/s':>9}{'peak MB':>9}"
    print(head)
    for row in rows:
        label = f"{row['model']} {row['size']} b{row['batch']}"
        bare = row["steps_per_s"]["bare"]["median"]
        for path, rate in row["steps_per_s"].items():
            print(f"{label:<16}{path:<7}{rate['median']:>9.3g}{rate['min']:>8.3g}{rate['max']:>8.3g}"
                  f"{rate['median'] / bare:>8.3f}{row['gflop_per_s'][path]:>9.4g}{row['peak_mb'][path]:>9.1f}")
        print(f"{'':<16}fast vs plain: max pixel difference {row['fast_max_pixel_difference']}, mean "
              f"{row['fast_mean_pixel_difference']:.3f}; compiles after changes {row['compiles_after_changes']}; "
              f"UNet {row['unet_gflop']:.4g} GFLOP per call")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--models", default="demo,sd15", help="comma-separated: demo, sd15")
    parser.add_argument("--quick", action="store_true", help="4 steps, 2 repeats")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--size", type=int, help="SD 1.5's side (default 256 on the CPU, 512 on CUDA)")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend of the fast path")
    parser.add_argument("--engine", choices=("auto", "torch", "openvino"), default="auto",
                        help="the fast path's engine: auto takes OpenVINO for a UNet on the CPU where installed")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    figures = run(args)
    merged_path = HERE / "results.json"
    merged = json.loads(merged_path.read_text()) if merged_path.exists() else {}
    merged["fast"] = json.loads(RESULTS.read_text())["fast"]
    merged["fast"].pop("rows", None)
    merged["fast"]["figures"] = figures
    merged_path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {RESULTS} and {merged_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
