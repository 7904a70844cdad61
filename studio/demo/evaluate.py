"""Score the exported demo model: does the picture match the prompt?

Prompts come from fixed seeds, images from plain `StableDiffusionPipeline.from_pretrained`,
and each picture is read back with `classify.read`.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import StableDiffusionPipeline

from studio.demo import classify, shapes

STEPS = 20
GUIDANCE_CHOICES = (2.0, 3.0, 4.0, 5.0, 7.0, 9.0)


@dataclass(frozen=True)
class Score:
    n: int
    background: float
    color: float
    shape: float
    all_right: float
    layout: float = float("nan")  # size and position words obeyed, over the prompts that have them
    layout_n: int = 0  # how many prompts have size or position words

    @property
    def mean(self) -> float:
        return (self.background + self.color + self.shape) / 3

    @property
    def hits(self) -> int:
        """The whole score: background, shape color and shape read right, plus prompts whose
        size and position words the picture obeys."""
        placed = round(self.layout * self.layout_n) if self.layout_n else 0
        return round(self.n * (self.background + self.color + self.shape)) + placed

    @property
    def checks(self) -> int:
        """What `hits` is out of."""
        return 3 * self.n + self.layout_n

    @property
    def whole(self) -> float:
        return self.hits / self.checks if self.checks else float("nan")

    def line(self) -> str:
        return (
            f"n={self.n:3d}  background {self.background:5.1%}  shape color {self.color:5.1%}"
            f"  shape {self.shape:5.1%}  all three {self.all_right:5.1%}  size/position {self.layout:5.1%}"
            f"  whole {self.hits}/{self.checks}"
        )


def prompts(held_out: bool, n: int, seed: int) -> list[shapes.Labels]:
    """n labels with fixed seeds, from the seen or the held-out combinations."""
    combos = tuple(sorted(shapes.HELD_OUT)) if held_out else shapes.TRAIN_COMBOS
    rng = random.Random(f"eval:{held_out}:{seed}")
    out = []
    for i in range(n):
        color, background, shape = combos[i % len(combos)] if held_out else rng.choice(combos)
        size = rng.choice((None, None, "small", "large"))
        position = rng.choice((None, None, None, None, *shapes.POSITIONS))
        out.append(shapes.Labels(shape, color, background, size, position))
    return out


def ci_prompts() -> tuple[list[shapes.Labels], list[shapes.Labels]]:
    """What CI scores: 16 seen prompts, and every held-out combination twice."""
    return prompts(False, 16, 1), prompts(True, 2 * len(shapes.HELD_OUT), 1)


def load(folder: Path, device: str = "cpu") -> StableDiffusionPipeline:
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), dtype=torch.float32).to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(
    pipe: StableDiffusionPipeline,
    texts: list[str],
    seeds: list[int],
    guidance: float,
    batch: int = 16,
) -> np.ndarray:
    images = []
    for i in range(0, len(texts), batch):
        gens = [torch.Generator().manual_seed(s) for s in seeds[i : i + batch]]
        with torch.no_grad():
            out = pipe(
                texts[i : i + batch],
                num_inference_steps=STEPS,
                guidance_scale=guidance,
                generator=gens,
                height=64,
                width=64,
                output_type="np",
            )
        images.append((out.images * 255).round().clip(0, 255).astype(np.uint8))
    return np.concatenate(images)


def score(pipe: StableDiffusionPipeline, labels: list[shapes.Labels], guidance: float, seed: int = 0) -> Score:
    texts = [shapes.caption(lab) for lab in labels]
    images = generate(pipe, texts, [seed * 100_000 + i for i in range(len(texts))], guidance)
    bg = col = shp = both = 0
    placed: list[bool] = []
    for lab, img in zip(labels, images, strict=True):
        r = classify.read(img)
        b, c, s = r.background == lab.background, r.color == lab.color, r.shape == lab.shape
        bg, col, shp, both = bg + b, col + c, shp + s, both + (b and c and s)
        if lab.size or lab.position:
            placed.append(classify.layout_matches(r.mask, lab.size, lab.position))
    n = len(labels)
    layout = sum(placed) / len(placed) if placed else float("nan")
    return Score(n, bg / n, col / n, shp / n, both / n, layout, len(placed))


def default_guidance(folder: Path) -> float:
    data = json.loads((folder / "studio.json").read_text(encoding="utf-8"))
    return float(data["defaults"]["guidance"])


def quick_report(folder: Path) -> dict[str, Score]:
    """The CI subset: 16 seen + 44 held-out prompts, at the default guidance and at 1."""
    pipe = load(folder)
    g = default_guidance(folder)
    seen, held = ci_prompts()
    res = {
        "seen": score(pipe, seen, g),
        "held_out": score(pipe, held, g),
        "seen_g1": score(pipe, seen, 1.0),
        "held_out_g1": score(pipe, held, 1.0),
    }
    for k, v in res.items():
        print(f"  quick {k:12s} {v.line()}", flush=True)
    guided, unguided = guidance_hits(res)
    print(f"  quick whole score: guidance {g} {guided}, guidance 1 {unguided}", flush=True)
    return res


def pick_guidance(pipe: StableDiffusionPipeline) -> float:
    """Best guidance on a validation set that the reported evaluation does not use: the most
    pictures with all three of background, color and shape right, plus the whole score."""
    val = prompts(False, 32, 99)
    best, best_score = GUIDANCE_CHOICES[0], -1.0
    for g in GUIDANCE_CHOICES:
        s = score(pipe, val, g, seed=99)
        print(f"  guidance {g:3.1f}: {s.line()}", flush=True)
        if s.all_right + s.whole > best_score:
            best, best_score = g, s.all_right + s.whole
    return best


def set_default_guidance(folder: Path, guidance: float) -> None:
    path = folder / "studio.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["defaults"]["guidance"] = guidance
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main_report(folder: Path, out: Path | None = None, n_seen: int = 128, device: str = "cpu") -> dict[str, Score]:
    """The full evaluation: picks the default guidance, then scores seen and held-out prompts."""
    pipe = load(folder, device)
    print("evaluation: choosing the default guidance")
    g = pick_guidance(pipe)
    set_default_guidance(folder, g)
    if out is not None:
        (out / "guidance.json").write_text(json.dumps({"guidance": g}) + "\n")
    seen, held = prompts(False, n_seen, 0), prompts(True, 2 * len(shapes.HELD_OUT), 0)
    res = {
        "seen": score(pipe, seen, g),
        "held_out": score(pipe, held, g),
        "seen_g1": score(pipe, seen, 1.0),
        "held_out_g1": score(pipe, held, 1.0),
    }
    print(f"evaluation at {STEPS} steps, Euler, default guidance {g}:")
    for k, v in res.items():
        print(f"  {k:12s} {v.line()}", flush=True)
    guided, unguided = guidance_hits(res)
    print(f"whole score, seen + held-out: guidance {g} {guided}, guidance 1 {unguided}", flush=True)
    return res


def guidance_hits(res: dict[str, Score]) -> tuple[int, int]:
    """The whole score over seen and held-out prompts, at the default guidance and at 1."""
    guided = res["seen"].hits + res["held_out"].hits
    unguided = res["seen_g1"].hits + res["held_out_g1"].hits
    return guided, unguided
