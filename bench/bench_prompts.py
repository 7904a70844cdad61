"""Cost of reading and encoding a prompt per run on the bundled demo model, next to one denoising
step measured in the same run: plain, weighted, 200 tokens in chunks, and prompt editing.

Run: python bench/bench_prompts.py [--repeats 20] [--threads 2] [--json bench/results_prompts.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parents[1] / "resources" / "models" / "studio-shapes"
WORDS = "a red circle on a blue background, a green square, soft light, "
PROMPTS = {
    "plain": "a red circle on a blue background",
    "weighted": "a (red:1.4) circle on a [blue] ((background))",
    "200 tokens": (WORDS * 9).strip(),
    "editing": "a [red:blue:0.5] circle on a [green|yellow] background",
}


def _median(call: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from diffusers import StableDiffusionPipeline

    from studio.engine.prompting.syntax import parse_prompt
    from studio.engine.run.prompts import prompt_arguments, warm_prompt_cache

    torch.set_num_threads(args.threads)
    pipe = StableDiffusionPipeline.from_pretrained(str(FOLDER), dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    step = _median(lambda: pipe("a red circle", num_inference_steps=1, height=64, width=64,
                                output_type="latent"), args.repeats)
    rows: dict[str, Any] = {}
    for name, prompt in PROMPTS.items():
        def encode(prompt: str = prompt) -> None:
            pipe.__dict__.pop("_studio_prompt_embeddings", None)  # a prompt not seen before
            warm_prompt_cache(pipe, prompt, "ugly", True, 20)

        tokens = len(pipe.tokenizer(parse_prompt(prompt).plain_text(), truncation=False)["input_ids"])
        rows[name] = {
            "tokens": tokens,
            "parse_s": _median(lambda prompt=prompt: parse_prompt(prompt).schedule(20), args.repeats),
            "encode_s": _median(encode, args.repeats),
            "cached_s": _median(lambda prompt=prompt: prompt_arguments(pipe, prompt, "ugly", True, steps=20),
                                args.repeats),
        }
    return {"threads": args.threads, "repeats": args.repeats, "step_s": step, "prompts": rows,
            "window": int(pipe.tokenizer.model_max_length)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=Path(__file__).with_name("results_prompts.json"))
    args = parser.parse_args()
    result = run(args)
    step = result["step_s"]
    print(f"a 1-step 64x64 run to latents (text encoder included): {step * 1000:.1f} ms "
          f"(window {result['window']} tokens)")
    print(f"{'prompt':<12}{'tokens':>8}{'parse ms':>10}{'encode ms':>11}{'x run':>8}{'cached ms':>11}")
    for name, row in result["prompts"].items():
        print(f"{name:<12}{row['tokens']:>8}{row['parse_s'] * 1000:>10.2f}{row['encode_s'] * 1000:>11.2f}"
              f"{row['encode_s'] / step:>8.2f}{row['cached_s'] * 1000:>11.3f}")
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
