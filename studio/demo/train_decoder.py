"""Optional stage: sharpen the autoencoder's decoder while its encoder stays frozen.

The diffusion model was trained on this encoder's latents, so the encoder must not change;
only the decoder learns to draw those latents more exactly (a star keeps its points).
The result replaces the model folder's VAE weights and its fitted linear preview.
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
        print(f"decoder: PSNR before {train_vae.psnr(vae.eval()):.2f} dB")
    deadline = time.monotonic() + minutes * 60 if minutes else math.inf
    last_save = time.monotonic()
    step = start
    bar = tqdm(range(start, steps), initial=start, total=steps, desc="decoder", mininterval=10)
    for step in bar:
        if step % 100 == 0:
            stream = shapes.training_samples(seed * 7777 + step)  # a function of the step: resumable
        for g in opt.param_groups:
            g["lr"] = LR * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        x = train_vae._batch(stream, batch).to(device)
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mean
        y = vae.decode(z).sample
        loss = train_vae.reconstruction_step(opt, y, x)
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
    print(f"decoder: PSNR after {train_vae.psnr(vae):.2f} dB")
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
