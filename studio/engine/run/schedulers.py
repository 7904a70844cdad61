"""Schedulers by friendly name, with the sampler names other tools write. Torch-free."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SchedulerSpec:
    name: str  # what Studio shows and stores
    diffusers_class: str
    options: dict[str, Any] = field(default_factory=dict)
    a1111: str = ""  # sampler name in AUTOMATIC1111 infotext
    comfy: tuple[str, str] = ("", "normal")  # (sampler_name, scheduler) in ComfyUI graphs


SCHEDULERS: tuple[SchedulerSpec, ...] = (
    SchedulerSpec("Euler", "EulerDiscreteScheduler", {}, "Euler", ("euler", "normal")),
    SchedulerSpec("Euler a", "EulerAncestralDiscreteScheduler", {}, "Euler a", ("euler_ancestral", "normal")),
    SchedulerSpec(
        "DPM++ 2M",
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": False},
        "DPM++ 2M",
        ("dpmpp_2m", "normal"),
    ),
    SchedulerSpec(
        "DPM++ 2M Karras",
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
        "DPM++ 2M Karras",
        ("dpmpp_2m", "karras"),
    ),
    SchedulerSpec("DDIM", "DDIMScheduler", {}, "DDIM", ("ddim", "ddim_uniform")),
    SchedulerSpec("UniPC", "UniPCMultistepScheduler", {}, "UniPC", ("uni_pc", "normal")),
    SchedulerSpec("LCM", "LCMScheduler", {}, "LCM", ("lcm", "normal")),
)

SCHEDULER_NAMES: tuple[str, ...] = tuple(s.name for s in SCHEDULERS)

# SD3 and Flux are trained for flow matching and run only with their own sampler.
FLOW_MATCHING = SchedulerSpec("Flow matching", "FlowMatchEulerDiscreteScheduler", {}, "Euler", ("euler", "simple"))
FLOW_MATCHING_FAMILIES = frozenset({"SD3", "Flux"})
KNOWN_NAMES: tuple[str, ...] = (*SCHEDULER_NAMES, FLOW_MATCHING.name)
_BY_NAME = {s.name: s for s in (*SCHEDULERS, FLOW_MATCHING)}


def names_for(family: str) -> tuple[str, ...]:
    """The samplers a model of `family` can run with."""
    return (FLOW_MATCHING.name,) if family in FLOW_MATCHING_FAMILIES else SCHEDULER_NAMES


def spec(name: str) -> SchedulerSpec:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"Unknown scheduler {name!r}; known: {', '.join(KNOWN_NAMES)}") from None


def from_sampler_name(sampler: str, schedule: str = "") -> str | None:
    """Studio's name for a sampler as AUTOMATIC1111 or ComfyUI write it, if Studio has it.

    AUTOMATIC1111 1.9+ writes "DPM++ 2M" plus "Schedule type: Karras"; older versions
    write "DPM++ 2M Karras". ComfyUI writes e.g. ("dpmpp_2m", "karras").
    """
    text = sampler.strip()
    sched = schedule.strip().lower()
    if sched == "karras" and not text.lower().endswith("karras"):
        text = f"{text} Karras"
    low = text.lower()
    for s in SCHEDULERS:
        if low in (s.name.lower(), s.a1111.lower()):
            return s.name
    for s in SCHEDULERS:
        sampler_name, comfy_sched = s.comfy
        if sampler.strip().lower() == sampler_name and (sched == "karras") == (comfy_sched == "karras"):
            return s.name
    return None
