"""Write the trained demo model as a standard diffusers folder (fp16 safetensors)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel

from studio.demo import checkpoint, configs, tokenizer, train_diffusion, train_vae

DEFAULT_GUIDANCE = 4.0
DESCRIPTION = "A small built-in demo that knows colored shapes on solid backgrounds at 64x64."


def guidance_for(out: Path) -> float:
    """The guidance scale the evaluation found best, if it ran."""
    path = out / "guidance.json"
    if path.exists():
        return float(json.loads(path.read_text())["guidance"])
    return DEFAULT_GUIDANCE


def build_pipeline(out: Path) -> StableDiffusionPipeline:
    vae = train_vae.load_trained(out)
    lat = checkpoint.load(out / "latents.pt")
    state = checkpoint.load(out / "diffusion.pt")
    if lat is None or state is None:
        raise FileNotFoundError(f"No diffusion checkpoint in {out}; run the diffusion stage first")
    vae.register_to_config(scaling_factor=round(float(lat["scale"]), 5))
    tok = tokenizer.build()
    text = train_diffusion.build_text_encoder(tok)
    text.load_state_dict(state["ema_text"])
    unet = UNet2DConditionModel(**configs.UNET)
    unet.load_state_dict(state["ema_unet"])
    scheduler = EulerDiscreteScheduler(**configs.SCHEDULER)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text.eval(),
        tokenizer=tok,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def export(out: Path, folder: Path) -> Path:
    """Replace `folder` with the model built from the latest checkpoints in `out`."""
    pipe = build_pipeline(out).to(torch.float16)
    folder = folder.resolve()
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    pipe.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save(pipe.tokenizer, tmp / "tokenizer")
    studio = {
        "name": "Shapes demo",
        "description": DESCRIPTION,
        "defaults": {
            "steps": 20,
            "guidance": guidance_for(out),
            "width": 64,
            "height": 64,
            "scheduler": "Euler",
        },
    }
    (tmp / "studio.json").write_text(json.dumps(studio, indent=2) + "\n", encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    if old.exists():
        shutil.rmtree(old)
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"export: {folder} ({size / 1e6:.1f} MB)")
    return folder
