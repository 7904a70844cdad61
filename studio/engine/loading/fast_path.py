"""The fast path, opt-in per model: the UNet's (or transformer's) blocks and the VAE decoder
compiled with torch.compile, the compiled code kept on disk, channels_last, fused QKV
projections and PyTorch's scaled-dot-product attention. On the CPU, a UNet model runs its UNet
and VAE decoder through OpenVINO instead where it is installed (openvino_path.py).

The blocks are compiled one by one (not the whole UNet) so that the mid-step cancel check,
a pre-hook on each block, stays in Python between them, and so that blocks of one kind share
their compiled code. A new input shape (another size, batch or prompt length) compiles once;
the prompt, seed, guidance scale and step count do not.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.engine.loading.openvino_path import OpenVinoPath, takes_openvino
from studio.engine.run.events import EventSink, Optimizing
from studio.engine.run.mid_step import denoiser_blocks

OPTIMIZING = "Optimizing for this model, once: the first step waits for it…"
_APPLIED = "_studio_fast_path"
# each block kind compiles once per shape it meets; the default limit (8) is too low for
# SD 1.5's three cross-attention blocks of each kind at two or three sizes
_RECOMPILE_LIMIT = 64


@dataclass(frozen=True)
class FastPathOptions:
    backend: str = "inductor"  # "eager" or "aot_eager" check the wiring without compiling code
    compile: bool = True
    channels_last: bool = True
    fuse_qkv: bool = True
    cache_dir: Path | None = None  # where compiled code is kept between starts (Studio's cache)
    # "auto": OpenVINO for a UNet model on the CPU when it is installed (bench_openvino.py: 2.2x
    # on SD 1.5's UNet, where torch.compile loses), else torch.compile; or "openvino" / "torch"
    engine: str = "auto"


@dataclass
class FastPath:
    """Which models take the fast path (ids or folder paths), and how. Empty: none do."""

    models: Collection[str] = ()
    options: FastPathOptions = field(default_factory=FastPathOptions)
    _sink: EventSink | None = None
    _openvino: OpenVinoPath | None = None

    def wanted(self, model_id: str, path: Path) -> bool:
        return model_id in self.models or str(path) in self.models

    def apply(self, pipe: Any, source: Path | None = None) -> list[str]:
        """Put `pipe` (loaded from `source`) on the fast path (once; pipelines derived from it
        share its modules). Returns what was done, in words, for the benchmark and the log."""
        import torch

        denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
        if denoiser is None or getattr(denoiser, _APPLIED, False):
            return []
        options = self.options
        if options.engine != "torch" and takes_openvino(pipe):
            if self._openvino is None:
                self._openvino = OpenVinoPath(options.cache_dir, self._notify)
            object.__setattr__(denoiser, _APPLIED, True)
            return self._openvino.install(pipe, source)
        done: list[str] = []
        if options.fuse_qkv and hasattr(pipe, "fuse_qkv_projections"):
            try:
                pipe.fuse_qkv_projections()
                done.append("fused QKV projections")
            except Exception:  # an attention layout that cannot be fused: left as it is
                pass
        done.append(_fastest_attention(denoiser))
        vae = getattr(pipe, "vae", None)
        if options.channels_last:
            for module in (denoiser, vae):
                if module is not None and _has_conv(module):
                    module.to(memory_format=torch.channels_last)
            done.append("channels_last")
        if options.compile:
            use_compile_cache(options.cache_dir)
            for block in denoiser_blocks(denoiser):
                block.forward = _compiled(block.forward, options.backend)
            decoder = getattr(vae, "decoder", None)
            if decoder is not None:
                decoder.forward = _compiled(decoder.forward, options.backend)
            denoiser.register_forward_pre_hook(_ShapeWatch(self._notify), with_kwargs=True)
            done.append(f"compiled blocks and VAE decoder ({options.backend})")
        object.__setattr__(denoiser, _APPLIED, True)
        return done

    @contextmanager
    def running(self, on_event: EventSink) -> Iterator[None]:
        """Tell `on_event` when the run in progress waits for a compile."""
        self._sink = on_event
        if self._openvino is not None:
            self._openvino.skipped.clear()
        try:
            yield
        finally:
            self._sink = None

    def notices(self) -> list[str]:
        """Why the run in progress left OpenVINO for torch, in words for its notices."""
        skipped = sorted(self._openvino.skipped) if self._openvino is not None else []
        return [f"Part of this run ran on torch instead of OpenVINO ({reason})." for reason in skipped]

    @property
    def openvino_conversions(self) -> int:
        return self._openvino.conversions if self._openvino is not None else 0

    def _notify(self) -> None:
        if self._sink is not None:
            self._sink(Optimizing(OPTIMIZING))


class _ShapeWatch:
    """A pre-hook on the denoiser: a call with input shapes not seen before compiles."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self._notify = notify
        self._seen: set[tuple[Any, ...]] = set()

    def __call__(self, _module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        key = _signature((args, kwargs))
        if key not in self._seen:
            self._seen.add(key)
            self._notify()


def _signature(value: Any) -> tuple[Any, ...]:
    """The shapes and dtypes in `value` (tensors inside tuples, lists and dicts)."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return (tuple(value.shape), str(value.dtype))
    if isinstance(value, list | tuple):
        return tuple(_signature(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _signature(v)) for k, v in sorted(value.items()))
    return ()


def use_compile_cache(cache_dir: Path | None) -> None:
    """Keep inductor's (and Triton's) compiled code under `cache_dir`, so a second start of
    Studio finds it instead of compiling again. Set before the first compile."""
    if cache_dir is None:
        return
    folder = Path(cache_dir) / "compiled"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(folder / "inductor"))
    os.environ.setdefault("TRITON_CACHE_DIR", str(folder / "triton"))
    import torch._dynamo
    import torch._inductor.config as inductor

    inductor.fx_graph_cache = True
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, _RECOMPILE_LIMIT)


def compiled_graphs() -> int:
    """How many graphs torch.compile has built in this process: unchanged across two runs
    means the second compiled nothing."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def _compiled(forward: Callable[..., Any], backend: str) -> Callable[..., Any]:
    import torch
    import torch._dynamo

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, _RECOMPILE_LIMIT)
    return torch.compile(forward, backend=backend)  # type: ignore[no-any-return]


def _fastest_attention(denoiser: Any) -> str:
    """PyTorch's fused scaled-dot-product attention on every attention layer that is not
    already on it (diffusers picks it by default; a loaded checkpoint may have changed that)."""
    import torch.nn.functional as functional

    if not hasattr(functional, "scaled_dot_product_attention") or not hasattr(denoiser, "attn_processors"):
        return "default attention"
    names = {type(p).__name__ for p in denoiser.attn_processors.values()}
    if names and all("2_0" in name for name in names):
        return "SDPA attention"
    try:
        from diffusers.models.attention_processor import AttnProcessor2_0

        denoiser.set_attn_processor(AttnProcessor2_0())
    except Exception:  # transformer layouts with processors of their own keep them
        return "default attention"
    return "SDPA attention"


def _has_conv(module: Any) -> bool:
    import torch

    return any(isinstance(m, torch.nn.Conv2d) for m in module.modules())
