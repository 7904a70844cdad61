from __future__ import annotations

import pytest

from studio.engine.run.request import SEED_MAX, GenerationRequest, InvalidRequest, check
from studio.engine.run.schedulers import SCHEDULER_NAMES, from_sampler_name


def test_defaults_are_valid() -> None:
    assert GenerationRequest("a cat").problems() == []


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"steps": 0}, "Steps must be a whole number from 1 to 500"),
        ({"steps": 501}, "Steps must be"),
        ({"steps": 2.5}, "Steps must be"),
        ({"guidance": -0.1}, "Guidance must be a number from 0 to 30"),
        ({"guidance": 30.5}, "Guidance must be"),
        ({"guidance": float("nan")}, "Guidance must be"),
        ({"seed": -1}, "Seed must be a whole number from 0"),
        ({"seed": SEED_MAX + 1}, "Seed must be"),
        ({"width": 100}, "Width must be a multiple of 8 pixels; 100 is not (try 96 or 104)"),
        ({"height": 16}, "Height must be from 32 to 2048"),
        ({"height": 4096}, "Height must be from 32 to 2048"),
        ({"width": "512"}, "Width must be a whole number"),
        ({"scheduler": "Heun++"}, "Unknown scheduler 'Heun++'"),
        ({"batch": 0}, "Batch size must be a whole number from 1 to 16"),
        ({"batch": 17}, "Batch size must be"),
        ({"steps": True}, "Steps must be"),
    ],
)
def test_each_rule_explains_itself(changes: dict[str, object], fragment: str) -> None:
    problems = GenerationRequest("x").replace(**changes).problems()
    assert len(problems) == 1
    assert fragment in problems[0]


def test_every_problem_is_reported_at_once() -> None:
    bad = GenerationRequest("x", steps=0, guidance=99, width=7, scheduler="?", batch=99)
    assert len(bad.problems()) == 5
    with pytest.raises(InvalidRequest) as info:
        check(bad)
    assert len(info.value.problems) == 5


def test_boundaries_are_accepted() -> None:
    edge = GenerationRequest("x", seed=SEED_MAX, steps=500, guidance=30, width=2048, height=32, batch=16)
    assert edge.problems() == []
    assert GenerationRequest("x", seed=0, steps=1, guidance=0).problems() == []


def test_random_seed_is_resolved_once() -> None:
    request = GenerationRequest("x")
    resolved = request.with_seed()
    assert resolved.seed is not None and 0 <= resolved.seed <= SEED_MAX
    assert resolved.with_seed() is resolved
    assert request.seed is None  # frozen: the original is untouched


def test_batch_images_get_consecutive_seeds() -> None:
    per_image = GenerationRequest("x", seed=SEED_MAX, batch=3).per_image()
    assert [r.seed for r in per_image] == [SEED_MAX, 0, 1]
    assert all(r.batch == 1 for r in per_image)


def test_dict_round_trip_ignores_unknown_keys() -> None:
    request = GenerationRequest("a", negative_prompt="b", seed=3, steps=9, scheduler="DDIM")
    data = request.to_dict() | {"from_the_future": 1}
    assert GenerationRequest.from_dict(data) == request


def test_every_scheduler_maps_to_sampler_names() -> None:
    for name in SCHEDULER_NAMES:
        assert from_sampler_name(name) == name
    assert from_sampler_name("DPM++ 2M", "Karras") == "DPM++ 2M Karras"
    assert from_sampler_name("dpmpp_2m", "karras") == "DPM++ 2M Karras"
    assert from_sampler_name("euler_ancestral", "normal") == "Euler a"
    assert from_sampler_name("Heun") is None
