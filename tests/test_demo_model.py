"""The bundled demo model: loads offline, fits the size budget, and draws what it is asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from studio.demo import classify, evaluate, shapes  # noqa: E402
from studio.engine.run.schedulers import SCHEDULERS  # noqa: E402

FOLDER = Path(__file__).resolve().parents[1] / "resources" / "models" / "studio-shapes"
FRAME_LEVELS = 4.0  # the most an edge row or column may step from its neighbour, in 0-255 levels
pytestmark = pytest.mark.skipif(not (FOLDER / "model_index.json").exists(), reason="not exported")


@pytest.fixture(scope="module")
def pipe():  # type: ignore[no-untyped-def]
    torch.set_num_threads(2)
    return evaluate.load(FOLDER)


@pytest.fixture(scope="module")
def scores(pipe):  # type: ignore[no-untyped-def]
    g = evaluate.default_guidance(FOLDER)
    seen, held = evaluate.ci_prompts()
    return {
        "seen": evaluate.score(pipe, seen, g),
        "held_out": evaluate.score(pipe, held, g),
        "seen_g1": evaluate.score(pipe, seen, 1.0),
        "held_out_g1": evaluate.score(pipe, held, 1.0),
    }


def test_folder_is_a_standard_diffusers_folder() -> None:
    index = json.loads((FOLDER / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["safety_checker"] == [None, None]
    assert index["feature_extractor"] == [None, None]
    assert index["requires_safety_checker"] is False
    assert (FOLDER / "tokenizer" / "vocab.json").is_file()
    assert (FOLDER / "tokenizer" / "merges.txt").is_file()
    assert not list(FOLDER.rglob("*.bin")) and not list(FOLDER.rglob("*.pt"))
    studio = json.loads((FOLDER / "studio.json").read_text())
    assert studio["defaults"]["width"] == studio["defaults"]["height"] == 64
    assert studio["defaults"]["scheduler"] == "Euler"


def test_folder_fits_the_size_budget() -> None:
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert size <= 20 * 1024 * 1024


def test_plain_diffusers_loads_it_offline() -> None:
    code = (
        "import sys, diffusers\n"
        "p = diffusers.DiffusionPipeline.from_pretrained(sys.argv[1])\n"
        "print(type(p).__name__, p.safety_checker is None)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(FOLDER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.split() == ["StableDiffusionPipeline", "True"]


def test_seen_combinations_meet_the_targets(scores) -> None:  # type: ignore[no-untyped-def]
    s = scores["seen"]
    assert s.background >= 0.9, s.line()
    assert s.color >= 0.8, s.line()


def test_seen_combinations_meet_the_shape_target(scores) -> None:  # type: ignore[no-untyped-def]
    s = scores["seen"]
    assert s.shape >= 0.6, s.line()


def test_held_out_combinations_meet_the_targets(scores) -> None:  # type: ignore[no-untyped-def]
    s = scores["held_out"]
    assert s.background >= 0.75, s.line()
    assert s.color >= 0.6, s.line()


def test_guidance_matters(scores) -> None:  # type: ignore[no-untyped-def]
    # Zero terminal SNR makes even unguided samples take the background from the prompt; the whole
    # score (background, color, shape, and the size and position words) shows what guidance adds.
    guided, unguided = evaluate.guidance_hits(scores)
    assert unguided < guided, (scores["seen_g1"].line(), scores["seen"].line())
    assert scores["held_out_g1"].color < scores["held_out"].color, scores["held_out_g1"].line()


def edge_steps(image: np.ndarray) -> list[float]:
    """Mean step (0-255 levels) from each edge row and column to its neighbour."""
    img = image.astype(np.float64)
    pairs = [(img[0], img[1]), (img[-1], img[-2]), (img[:, 0], img[:, 1]), (img[:, -1], img[:, -2])]
    return [float(np.abs(a - b).mean()) for a, b in pairs]


def test_generated_pictures_have_no_frame(pipe) -> None:  # type: ignore[no-untyped-def]
    # The drawn pictures keep their shapes off the edge, so the edge rows and columns are plain
    # background; a decoder that mishandles its zero padding draws a light one-pixel frame there.
    labels = [
        shapes.Labels("circle", "red", "blue", "small", "center"),
        shapes.Labels("star", "white", "black", "small", "center"),
        shapes.Labels("square", "purple", "yellow", "small", "center"),
        shapes.Labels("triangle", "green", "white", "small", "center"),
    ]
    texts = [shapes.caption(lab) for lab in labels]
    images = evaluate.generate(pipe, texts, list(range(len(texts))), evaluate.default_guidance(FOLDER))
    steps = [edge_steps(img) for img in images]
    assert max(max(s) for s in steps) <= FRAME_LEVELS, steps


@pytest.mark.parametrize("spec", SCHEDULERS, ids=lambda s: s.name)
def test_every_scheduler_accepts_the_config(pipe, spec) -> None:  # type: ignore[no-untyped-def]
    cls = getattr(diffusers, spec.diffusers_class)
    scheduler = cls.from_config(pipe.scheduler.config, **spec.options)
    assert scheduler.config.prediction_type == "v_prediction"
    run = diffusers.StableDiffusionPipeline(**{**pipe.components, "scheduler": scheduler})
    run.set_progress_bar_config(disable=True)
    labels = [
        shapes.Labels("circle", "yellow", "blue", "large", "center"),
        shapes.Labels("square", "white", "red", "large", None),
    ]
    steps = 4 if spec.name == "LCM" else evaluate.STEPS
    out = run(
        [shapes.caption(lab) for lab in labels],
        num_inference_steps=steps,
        guidance_scale=evaluate.default_guidance(FOLDER),
        generator=[torch.Generator().manual_seed(i) for i in range(len(labels))],
        height=64,
        width=64,
        output_type="np",
    )
    images = (out.images * 255).round().clip(0, 255).astype(np.uint8)
    assert np.isfinite(out.images).all()
    backgrounds = [classify.read(img).background for img in images]
    # A broken schedule gives noise or a flat grey; a working one paints the asked background.
    assert sum(b == lab.background for b, lab in zip(backgrounds, labels, strict=True)) >= 1
