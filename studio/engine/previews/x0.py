"""Capture the scheduler's prediction of the clean latents (x0) at every step.

Schedulers return x0 as `pred_original_sample` (Euler, Euler a, DDIM) or `denoised` (LCM);
multistep solvers (DPM++, UniPC) keep it as their latest converted model output.
"""

from __future__ import annotations

from typing import Any


class X0Capture:
    """Wraps one scheduler instance's `step` so the last x0 is at hand in the step callback."""

    def __init__(self, scheduler: Any) -> None:
        self.latest: Any = None
        original = scheduler.step

        def step(*args: Any, return_dict: bool = True, **kwargs: Any) -> Any:
            out = original(*args, return_dict=True, **kwargs)
            self.latest = _x0_of(scheduler, out)
            return out if return_dict else out.to_tuple()

        scheduler.step = step

    def take(self) -> Any:
        x0, self.latest = self.latest, None
        return x0


def _x0_of(scheduler: Any, out: Any) -> Any:
    for name in ("pred_original_sample", "denoised"):
        value = getattr(out, name, None)
        if value is not None:
            return value
    outputs = getattr(scheduler, "model_outputs", None)
    if outputs:
        return outputs[-1]
    return None
