"""Optional stage: sharpen the autoencoder's decoder while its encoder stays frozen.

The diffusion model was trained on this encoder's latents, so the encoder must not change;
only the decoder learns to draw those latents more exactly (a star keeps its points).
The result replaces the model folder's VAE weights and its fitted linear preview.

The decoder's convolutions pad with zeros, so at the picture's edge they see a black border that
never exists in the pictures. Trained on the whole-picture loss alone, it drew a light one-pixel
frame around every image; an extra loss on the outer ring (BORDER_WIDTH pixels, weighted
BORDER_WEIGHT) teaches it to draw the edge like the rest of the background.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from tqdm import tqdm

from studio.demo import checkpoint, shapes, train_vae

LR = 5e-4
BORDER_WIDTH = 2
BORDER_WEIGHT = 1.0


def _ring(t: torch.Tensor) -> torch.Tensor:
    """The outer BORDER_WIDTH pixels of a (N, C, H, W) batch, flattened."""
    w = BORDER_WIDTH
    return torch.cat(
        [
            t[..., :w, :].flatten(1),
            t[..., -w:, :].flatten(1),
            t[..., w:-w, :w].flatten(1),
            t[..., w:-w, -w:].flatten(1),
        ],
        dim=1,
    )


def border_loss(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """L1 + MSE on the outer ring only."""
    d = _ring(y) - _ring(x)
    return d.abs().mean() + (d**2).mean()


def frame_levels(vae: AutoencoderKL, seed: int = 7, n: int = 64) -> float:
    """How far (0-255 levels, mean over pictures) the decoded edge rows and columns stray from the
    next ones in: 0 for every drawn picture, whose shapes keep a margin from the edge."""
    x = train_vae._batch(shapes.training_samples(seed), n).to(vae.device)
    with torch.no_grad():
        y = vae.decode(vae.encode(x).latent_dist.mean).sample.clamp(-1, 1)
    return edge_step(y) * 127.5


def edge_step(y: torch.Tensor) -> float:
    """Mean absolute step between each edge row/column and its neighbour, in the tensor's units."""
    steps = [
        (y[..., 0, :] - y[..., 1, :]).abs().mean(),
        (y[..., -1, :] - y[..., -2, :]).abs().mean(),
        (y[..., :, 0] - y[..., :, 1]).abs().mean(),
        (y[..., :, -1] - y[..., :, -2]).abs().mean(),
    ]
    return float(torch.stack(steps).mean())


def _trainable(vae: AutoencoderKL) -> list[torch.nn.Parameter]:
    return [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]


def train(folder: Path, out: Path, steps: int, *, seed: int, minutes: float | None, device: str, batch: int) -> None:
    path = out / "decoder.pt"
    vae = AutoencoderKL.from_pretrained(str(folder / "vae")).float().to(device)
    vae.requires_grad_(False)
    params = _trainable(vae)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=LR, weight_decay=0.0)
    state = checkpoint.load(path)
    start = 0
    if state is not None:
        vae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        start = min(int(state["step"]), steps)
        print(f"decoder: resumed at step {start}")
    else:
        print(f"decoder: PSNR before {train_vae.psnr(vae.eval()):.2f} dB, frame {frame_levels(vae):.1f} levels")
    deadline = time.monotonic() + minutes * 60 if minutes else math.inf
    last_save = time.monotonic()
    step = start
    # The picture stream restarts every 100 steps from a seed that is a function of the step, so a
    # run resumed mid-block skips to the same picture it would have drawn.
    block = start - start % 100
    stream = shapes.training_samples(seed * 7777 + block)
    for _ in range((start - block) * batch):
        next(stream)
    bar = tqdm(range(start, steps), initial=start, total=steps, desc="decoder", mininterval=10)
    for step in bar:
        if step % 100 == 0 and step != start:
            stream = shapes.training_samples(seed * 7777 + step)  # a function of the step: resumable
        for g in opt.param_groups:
            g["lr"] = LR * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        x = train_vae._batch(stream, batch).to(device)
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mean
        y = vae.decode(z).sample
        loss = train_vae.reconstruction_step(opt, y, x, BORDER_WEIGHT * border_loss(y, x))
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        now = time.monotonic()
        done = step + 1
        if now - last_save > 180 or done == steps or now > deadline:
            checkpoint.save(path, {"model": vae.state_dict(), "opt": opt.state_dict(), "step": done})
            last_save = now
            if now > deadline and done < steps:
                print(f"decoder: time budget reached at step {done}; run again to resume")
                return
    vae.eval()
    print(f"decoder: PSNR after {train_vae.psnr(vae):.2f} dB, frame {frame_levels(vae):.1f} levels")
    _replace_vae(folder, vae)


def _replace_vae(folder: Path, vae: AutoencoderKL) -> None:
    target = folder / "vae"
    tmp = folder / "vae.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    vae.to("cpu", torch.float16).save_pretrained(str(tmp), safe_serialization=True)
    config = json.loads((tmp / "config.json").read_text(encoding="utf-8"))
    config.pop("_name_or_path", None)  # where it was loaded from: a path on this machine
    (tmp / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    old = folder / "vae.old"
    target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old)
