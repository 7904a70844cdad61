"""Stage 1: the autoencoder (64x64 RGB <-> 4x16x16 latents)."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL
from tqdm import tqdm

from studio.demo import checkpoint, configs, shapes

BATCH = 8
LR = 1e-3
KL_WEIGHT = 1e-6


def to_tensor(images: list) -> torch.Tensor:
    arr = np.stack([np.asarray(im, dtype=np.float32) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2) / 127.5 - 1.0


def _batch(stream, n: int) -> torch.Tensor:
    return to_tensor([next(stream).image for _ in range(n)])


def psnr(vae: AutoencoderKL, seed: int = 7, n: int = 64) -> float:
    """Mean PSNR (dB) of decode(mean latent) on fresh training pictures."""
    x = _batch(shapes.training_samples(seed), n).to(vae.device)
    with torch.no_grad():
        y = vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
    mse = ((x - y) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return float((10 * torch.log10(4.0 / mse)).mean())


def reconstruction_step(
    opt: torch.optim.Optimizer, y: torch.Tensor, x: torch.Tensor, extra: torch.Tensor | float = 0.0
) -> float:
    """One optimizer step on L1 + MSE between a decoded picture and the drawn one; the loss."""
    loss = (y - x).abs().mean() + ((y - x) ** 2).mean() + extra
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return float(loss.detach())


def train(
    out: Path, steps: int, seed: int, minutes: float | None, device: str = "cpu", batch: int = BATCH
) -> AutoencoderKL:
    path = out / "vae.pt"
    torch.manual_seed(seed)
    vae = AutoencoderKL(**configs.VAE).to(device)
    opt = torch.optim.AdamW(vae.parameters(), lr=LR, weight_decay=0.0)
    state = checkpoint.load(path)
    start = 0
    if state is not None:
        vae.load_state_dict(state["model"])
        if "opt" in state:
            opt.load_state_dict(state["opt"])
        start = int(state["step"])
        torch.set_rng_state(state["torch_rng"])
        print(f"vae: resumed at step {start}")
    if start >= steps:
        return vae.eval()
    # The picture stream is a function of (seed, step), so a resumed run sees the same data.
    stream = shapes.training_samples(seed * 1000 + start)
    deadline = time.monotonic() + minutes * 60 if minutes else math.inf
    last_save = time.monotonic()
    vae.train()
    bar = tqdm(range(start, steps), initial=start, total=steps, desc="vae", mininterval=5)
    step = start
    for step in bar:
        if step % 100 == 0 and step != start:
            stream = shapes.training_samples(seed * 1000 + step)
        lr = LR * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = _batch(stream, batch).to(device)
        post = vae.encode(x).latent_dist
        y = vae.decode(post.sample()).sample
        kl = post.kl().mean() / (4 * 16 * 16)
        loss = reconstruction_step(opt, y, x, KL_WEIGHT * kl)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        now = time.monotonic()
        done = step + 1
        if now - last_save > 180 or done == steps or now > deadline:
            checkpoint.save(
                path,
                {
                    "model": vae.state_dict(),
                    "opt": opt.state_dict(),
                    "step": done,
                    "torch_rng": torch.get_rng_state(),
                    "loss": loss,
                },
            )
            last_save = now
            if now > deadline:
                print(f"vae: time budget reached at step {done}; run again to resume")
                break
    vae.eval()
    print(f"vae: PSNR {psnr(vae):.2f} dB")
    return vae


def load_trained(out: Path) -> AutoencoderKL:
    state = checkpoint.load(out / "vae.pt")
    if state is None:
        raise FileNotFoundError(f"No autoencoder checkpoint in {out}; run the vae stage first")
    vae = AutoencoderKL(**configs.VAE)
    vae.load_state_dict(state["model"])
    return vae.eval()


def adopt(folder: Path, out: Path, steps: int) -> None:
    """Start from an exported model's autoencoder, keeping its scaling factor.

    The UNet of that model was trained on latents at that scale, so a warm start must keep it.
    """
    path = out / "vae.pt"
    if path.exists():
        return
    vae = AutoencoderKL.from_pretrained(str(folder / "vae")).float()
    state = {
        "model": vae.state_dict(),
        "step": steps,
        "torch_rng": torch.get_rng_state(),
        "scale": float(vae.config.scaling_factor),
    }
    checkpoint.save(path, state)
    print(f"vae: adopted from {folder} (scaling factor {state['scale']:.5f})")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
