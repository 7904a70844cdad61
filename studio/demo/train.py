"""Train the bundled demo model from scratch: `python -m studio.demo.train --stage all`.

Stages: vae (autoencoder), diffusion (text encoder + UNet on precomputed latents),
export (diffusers folder from the EMA weights), decoder (optional: the VAE decoder sharpened with
its encoder frozen, in the exported folder), eval (scores the exported folder).
Every stage checkpoints into --out and resumes from there when run again.

On a GPU the same recipe runs with bigger batches in minutes, for example:
    python -m studio.demo.train --device cuda --vae-steps 6000 --vae-batch 32 \
        --steps 12000 --batch 512 --dataset-size 131072
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from studio.demo import train_diffusion, train_vae

DEFAULT_OUT = Path("runs/demo")
DEFAULT_MODEL = Path("resources/models/studio-shapes")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m studio.demo.train", description=__doc__)
    p.add_argument("--stage", choices=["vae", "diffusion", "export", "decoder", "eval", "all"], default="all")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="checkpoints and logs")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="exported model folder")
    p.add_argument("--minutes", type=float, default=None, help="stop this run after N minutes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-steps", type=int, default=1000)
    p.add_argument("--steps", type=int, default=5200, help="diffusion training steps")
    p.add_argument(
        "--fit-steps",
        action="store_true",
        help="with --minutes: time the first diffusion steps and end the schedule inside the budget",
    )
    p.add_argument("--export-every", type=float, default=15.0, help="minutes between exports")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--vae-batch", type=int, default=train_vae.BATCH)
    p.add_argument("--decoder-steps", type=int, default=0, help="decoder-only steps after export (0: none)")
    p.add_argument("--batch", type=int, default=train_diffusion.BATCH, help="diffusion batch size")
    p.add_argument("--lr", type=float, default=train_diffusion.LR, help="diffusion peak learning rate")
    p.add_argument(
        "--dataset-size", type=int, default=train_diffusion.DATASET_SIZE, help="pictures for the diffusion stage"
    )
    p.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start the diffusion stage from an exported model folder (its VAE, text encoder and UNet)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if args.init_from is not None:
        train_vae.adopt(args.init_from, args.out, args.vae_steps)
    if args.stage in ("vae", "all"):
        train_vae.seed_everything(args.seed)
        train_vae.train(args.out, args.vae_steps, args.seed, args.minutes, args.device, args.vae_batch)
    if args.stage in ("diffusion", "all"):
        train_diffusion.train(args)
    if args.stage in ("export", "all"):
        from studio.demo import export
        from studio.demo.preview_fit import fit_demo_preview

        export.export(args.out, args.model)
        print(f"linear preview fit: {fit_demo_preview(args.model):.1f} dB on held-out pictures")
    if args.stage in ("decoder", "all") and args.decoder_steps > 0:
        from studio.demo import train_decoder
        from studio.demo.preview_fit import fit_demo_preview

        train_decoder.train(
            args.model,
            args.out,
            args.decoder_steps,
            seed=args.seed,
            minutes=args.minutes,
            device=args.device,
            batch=args.vae_batch,
        )
        print(f"linear preview fit: {fit_demo_preview(args.model):.1f} dB on held-out pictures")
    if args.stage in ("eval", "all"):
        from studio.demo import evaluate

        evaluate.main_report(args.model, args.out, device=args.device)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
