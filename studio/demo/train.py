"""Train the bundled demo model from scratch: `python -m studio.demo.train --stage all`.

Stages: vae (autoencoder), diffusion (text encoder + UNet on precomputed latents),
export (diffusers folder from the EMA weights), eval (scores the exported folder).
Every stage checkpoints into --out and resumes from there when run again.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from studio.demo import train_vae

DEFAULT_OUT = Path("runs/demo")
DEFAULT_MODEL = Path("resources/models/studio-shapes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m studio.demo.train", description=__doc__)
    p.add_argument("--stage", choices=["vae", "diffusion", "export", "eval", "all"], default="all")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="checkpoints and logs")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="exported model folder")
    p.add_argument("--minutes", type=float, default=None, help="stop this run after N minutes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-steps", type=int, default=1000)
    p.add_argument("--steps", type=int, default=5200, help="diffusion training steps")
    p.add_argument("--export-every", type=float, default=15.0, help="minutes between exports")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.stage in ("vae", "all"):
        train_vae.seed_everything(args.seed)
        train_vae.train(args.out, args.vae_steps, args.seed, args.minutes)
    if args.stage in ("diffusion", "all"):
        from studio.demo import train_diffusion

        train_diffusion.train(args)
    if args.stage in ("export", "all"):
        from studio.demo import export
        from studio.demo.preview_fit import fit_demo_preview

        export.export(args.out, args.model)
        print(f"linear preview fit: {fit_demo_preview(args.model):.1f} dB on held-out pictures")
    if args.stage in ("eval", "all"):
        from studio.demo import evaluate

        evaluate.main_report(args.model, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
