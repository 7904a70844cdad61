"""Capture the scheduler's prediction of the clean latents (x0) at every step.

Every scheduler Studio offers computes x0 from its own alphas or sigmas inside `step`:
- Euler, Euler a and DDIM return it as `pred_original_sample` (Euler's sample lives in
  sigma space, x = x0 + sigma * eps, and the scheduler divides that out);
- LCM returns `denoised` (the consistency model's boundary-conditioned x0);
- DPM++ (algorithm "dpmsolver++") and UniPC (predict_x0) keep x0 as their latest converted
  model output, `model_outputs[-1]`. Their noise-predicting variants keep epsilon there, which
  is converted here with the same alpha_t, sigma_t the scheduler used;
- flow-matching Euler (SD3, Flux) reports none: x0 = x_t - sigma_t * v, with its own sigmas.
"""

from __future__ import annotations

from typing import Any

from studio.engine.run.families import flow_matching_x0, is_flow_matching

_X0_ALGORITHMS = ("dpmsolver++", "sde-dpmsolver++")


class X0Capture:
    """Wraps one scheduler instance's `step` so the last x0 is at hand in the step callback."""

    def __init__(self, scheduler: Any) -> None:
        self.latest: Any = None
        original = scheduler.step
        flow = is_flow_matching(scheduler)

        def step(*args: Any, return_dict: bool = True, **kwargs: Any) -> Any:
            out = original(*args, return_dict=True, **kwargs)
            sample = args[2] if len(args) > 2 else kwargs.get("sample")
            if flow:
                output = args[0] if args else kwargs.get("model_output")
                index = int(scheduler.step_index) - 1
                self.latest = flow_matching_x0(scheduler, output, sample, index)
            else:
                self.latest = x0_of(scheduler, out, sample)
            return out if return_dict else out.to_tuple()

        scheduler.step = step

    def take(self) -> Any:
        x0, self.latest = self.latest, None
        return x0


def x0_of(scheduler: Any, out: Any, sample: Any) -> Any:
    """The x0 latents of one finished scheduler step, or None if the scheduler hides them."""
    for name in ("pred_original_sample", "denoised"):
        value = getattr(out, name, None)
        if value is not None:
            return value
    outputs = getattr(scheduler, "model_outputs", None)
    if not outputs or outputs[-1] is None:
        return None
    latest = outputs[-1]
    if _keeps_x0(scheduler):
        return latest
    return _x0_from_epsilon(scheduler, latest, sample)


def _keeps_x0(scheduler: Any) -> bool:
    config = scheduler.config
    if hasattr(scheduler, "predict_x0"):  # UniPC
        return bool(scheduler.predict_x0)
    algorithm = getattr(config, "algorithm_type", None)
    return algorithm is None or algorithm in _X0_ALGORITHMS


def _x0_from_epsilon(scheduler: Any, epsilon: Any, sample: Any) -> Any:
    """x0 = (x_t - sigma_t * eps) / alpha_t at the step just taken."""
    if sample is None:
        return None
    index = int(scheduler.step_index) - 1
    alpha_t, sigma_t = scheduler._sigma_to_alpha_sigma_t(scheduler.sigmas[index])
    return (sample - sigma_t * epsilon) / alpha_t
