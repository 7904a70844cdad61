"""What diffusers would redo on every call, done once per pipeline or before the run."""

from __future__ import annotations

from typing import Any

_PINNED: dict[type, type] = {}
_SPARE = "_studio_spare_scheduler"


def pin_execution_device(pipe: Any) -> None:
    """Make `pipe._execution_device` a constant when nothing offloads: diffusers otherwise walks
    every module of every component looking for offload hooks at the start of each call (a few
    milliseconds for SD 1.5). With offloading, where the answer moves, the pipeline is left alone."""
    import torch

    plan = getattr(pipe, "studio_memory_plan", None)
    if plan is not None and plan.offload != "none":
        return
    modules = [m for m in pipe.components.values() if isinstance(m, torch.nn.Module)]
    if any(hasattr(m, "_hf_hook") or hasattr(m, "_diffusers_hook") for m in modules):
        return
    device = pipe._execution_device
    pipe.__class__ = _pinned_class(type(pipe))
    pipe.__dict__["_studio_execution_device"] = device


def _pinned_class(cls: type) -> type:
    if "_studio_execution_device" in getattr(cls, "__dict__", {}):
        return cls
    pinned = _PINNED.get(cls)
    if pinned is None:
        def execution_device(self: Any) -> Any:
            return self.__dict__["_studio_execution_device"]

        # The same name and module: diffusers' from_pipe and Studio's family checks go by name.
        pinned = type(cls.__name__, (cls,), {
            "_execution_device": property(execution_device),
            "_studio_execution_device": None,
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
        })
        _PINNED[cls] = pinned
    return pinned


def keep_spare_scheduler(pipe: Any, name: str, config: Any) -> None:
    """Build the scheduler the next run of `pipe` with sampler `name` takes, ahead of it."""
    from studio.engine.run.scheduling import build_scheduler

    spare = pipe.__dict__.get(_SPARE)
    if spare is not None and spare[0] == name and spare[1] is config:
        return
    pipe.__dict__[_SPARE] = (name, config, build_scheduler(name, config))


def take_scheduler(pipe: Any, name: str, config: Any) -> Any:
    """A fresh scheduler for one run: the spare built ahead when it fits, else built now."""
    from studio.engine.run.scheduling import build_scheduler

    spare = pipe.__dict__.pop(_SPARE, None)
    if spare is not None and spare[0] == name and spare[1] is config:
        return spare[2]
    return build_scheduler(name, config)
