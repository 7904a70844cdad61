"""Stage 2: text encoder and UNet, trained jointly on precomputed latents (v-prediction)."""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from tqdm import tqdm
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from studio.demo import checkpoint, configs, shapes, tokenizer, train_vae

DATASET_SIZE = 16384
BATCH = 64
LR = 8e-4
WARMUP = 200
CAPTION_DROPOUT = 0.1
EMA_DECAY = 0.999


def build_text_encoder(tok: CLIPTokenizer) -> CLIPTextModel:
    cfg = configs.text_encoder(len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    return CLIPTextModel(CLIPTextConfig(**cfg))


def encode_ids(tok: CLIPTokenizer, texts: list[str]) -> torch.Tensor:
    enc = tok(
        texts,
        padding="max_length",
        truncation=True,
        max_length=configs.MAX_TOKENS,
        return_tensors="pt",
    )
    ids: torch.Tensor = enc.input_ids
    return ids


def prepare(
    out: Path, seed: int, tok: CLIPTokenizer, size: int = DATASET_SIZE, device: str = "cpu"
) -> dict[str, torch.Tensor]:
    """Latents (mean of the posterior) and token ids of a fixed training set, cached."""
    path = out / "latents.pt"
    cached = checkpoint.load(path)
    if cached is not None:
        return cached
    vae = train_vae.load_trained(out).to(device)
    adopted = checkpoint.load(out / "vae.pt") or {}
    stream = shapes.training_samples(seed + 1)
    latents, captions = [], []
    with torch.no_grad():
        for _ in tqdm(range(size // 128), desc="latents", mininterval=5):
            batch = [next(stream) for _ in range(128)]
            x = train_vae.to_tensor([s.image for s in batch]).to(device)
            latents.append(vae.encode(x).latent_dist.mean.cpu())
            captions += [s.caption for s in batch]
    lat = torch.cat(latents)
    std = float(lat.std())
    # An adopted autoencoder keeps the scale its UNet was trained at.
    scale = float(adopted.get("scale", 1.0 / std))
    data = {"latents": lat, "ids": encode_ids(tok, captions), "scale": torch.tensor(scale)}
    checkpoint.save(path, data)
    print(f"latents: {tuple(lat.shape)}, std {std:.4f}, scaling_factor {scale:.4f}")
    return data


class Trainer:
    def __init__(
        self,
        seed: int,
        total_steps: int,
        *,
        device: str = "cpu",
        lr: float = LR,
        init_from: Path | None = None,
    ) -> None:
        torch.manual_seed(seed)
        self.device = torch.device(device)
        self.tok = tokenizer.build()
        self.text = build_text_encoder(self.tok)
        self.unet = UNet2DConditionModel(**configs.UNET)
        if init_from is not None:
            self._warm_start(init_from)
        self.text.to(self.device)
        self.unet.to(self.device)
        self.ema_text = copy.deepcopy(self.text).requires_grad_(False)
        self.ema_unet = copy.deepcopy(self.unet).requires_grad_(False)
        self.params = list(self.text.parameters()) + list(self.unet.parameters())
        self.ema_params = list(self.ema_text.parameters()) + list(self.ema_unet.parameters())
        self.peak_lr = lr
        self.opt = torch.optim.AdamW(self.params, lr=lr, weight_decay=0.01)
        self.noise = DDPMScheduler(**configs.SCHEDULER)
        self.alphas = self.noise.alphas_cumprod.to(self.device)
        self.empty = encode_ids(self.tok, [""]).to(self.device)
        self.total = total_steps
        self.step = 0

    def _warm_start(self, folder: Path) -> None:
        text = CLIPTextModel.from_pretrained(str(folder / "text_encoder"))
        unet = UNet2DConditionModel.from_pretrained(str(folder / "unet"))
        self.text.load_state_dict({k: v.float() for k, v in text.state_dict().items()})
        self.unet.load_state_dict({k: v.float() for k, v in unet.state_dict().items()})
        print(f"diffusion: warm start from {folder}")

    def state(self) -> dict:
        return {
            "text": self.text.state_dict(),
            "unet": self.unet.state_dict(),
            "ema_text": self.ema_text.state_dict(),
            "ema_unet": self.ema_unet.state_dict(),
            "opt": self.opt.state_dict(),
            "step": self.step,
            "torch_rng": torch.get_rng_state(),
        }

    def load(self, state: dict) -> None:
        self.text.load_state_dict(state["text"])
        self.unet.load_state_dict(state["unet"])
        self.ema_text.load_state_dict(state["ema_text"])
        self.ema_unet.load_state_dict(state["ema_unet"])
        self.opt.load_state_dict(state["opt"])
        # map_location="cpu" put the optimizer moments on the CPU; they belong beside the weights.
        for moments in self.opt.state.values():
            for k, v in moments.items():
                if torch.is_tensor(v) and k != "step":
                    moments[k] = v.to(self.device)
        self.step = int(state["step"])
        torch.set_rng_state(state["torch_rng"])

    def lr(self) -> float:
        warm = min(1.0, (self.step + 1) / WARMUP)
        cos = 0.5 * (1 + math.cos(math.pi * min(1.0, self.step / self.total)))
        return self.peak_lr * warm * (0.05 + 0.95 * cos)

    def train_step(self, latents: torch.Tensor, ids: torch.Tensor) -> float:
        for g in self.opt.param_groups:
            g["lr"] = self.lr()
        drop = torch.rand(ids.shape[0], device=ids.device) < CAPTION_DROPOUT
        ids = torch.where(drop[:, None], self.empty, ids)
        noise = torch.randn_like(latents)
        t = torch.randint(0, self.noise.config.num_train_timesteps, (latents.shape[0],), device=latents.device)
        a = self.alphas[t].sqrt()[:, None, None, None]
        s = (1 - self.alphas[t]).sqrt()[:, None, None, None]
        noisy = a * latents + s * noise
        target = a * noise - s * latents  # v, as DDPMScheduler.get_velocity
        cond = self.text(ids).last_hidden_state
        pred = self.unet(noisy, t, cond).sample
        # Plain v-loss: min-SNR weights would zero out the last timestep, the very one where
        # the background color has to come from the prompt.
        loss = F.mse_loss(pred, target)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        self.step += 1
        self._ema()
        return loss.detach()

    @torch.no_grad()
    def _ema(self) -> None:
        d = min(EMA_DECAY, (1 + self.step) / (10 + self.step))
        torch._foreach_lerp_(self.ema_params, self.params, 1 - d)


def train(args: argparse.Namespace) -> None:
    from studio.demo import evaluate, export

    out: Path = args.out
    device, batch = args.device, args.batch
    tr = Trainer(args.seed, args.steps, device=device, lr=args.lr, init_from=args.init_from)
    data = prepare(out, args.seed, tr.tok, args.dataset_size, device)
    latents = (data["latents"] * data["scale"]).to(tr.device)
    ids = data["ids"].to(tr.device)
    state = checkpoint.load(out / "diffusion.pt")
    if state is not None:
        tr.load(state)
        tr.total = int(state.get("total", tr.total))
        print(f"diffusion: resumed at step {tr.step} of {tr.total}")
    if tr.step >= tr.total:
        return
    gen = torch.Generator(tr.device).manual_seed(args.seed * 7919 + tr.step)
    started = time.monotonic()
    deadline = started + args.minutes * 60 if args.minutes else math.inf
    last_save = last_export = started
    avg = None
    bar = tqdm(total=tr.total, initial=tr.step, desc="diffusion", mininterval=10)
    first = tr.step
    while tr.step < tr.total:
        idx = torch.randint(0, latents.shape[0], (batch,), generator=gen, device=tr.device)
        loss = tr.train_step(latents[idx], ids[idx])
        avg = loss if avg is None else 0.99 * avg + 0.01 * loss
        bar.update(1)
        if tr.step % 50 == 0:
            bar.set_postfix(loss=f"{float(avg):.4f}", lr=f"{tr.lr():.1e}", refresh=False)
        if args.fit_steps and tr.step == first + 100 and math.isfinite(deadline):
            # Size the cosine schedule so that it ends inside the time budget.
            rate = 100 / (time.monotonic() - started)
            tr.total = min(tr.total, tr.step + int(rate * (deadline - time.monotonic()) * 0.97))
            bar.total = tr.total
            print(f"\ndiffusion: {rate:.1f} steps/s, training to step {tr.total}", flush=True)
        now = time.monotonic()
        finished = tr.step >= tr.total or now > deadline
        exporting = now - last_export > args.export_every * 60 and not finished
        if now - last_save > 240 or finished or exporting:
            checkpoint.save(out / "diffusion.pt", {**tr.state(), "total": tr.total, "loss": float(avg)})
            last_save = now
        if exporting:
            print(f"\ndiffusion: step {tr.step}, loss {float(avg):.4f}: exporting", flush=True)
            try:
                export.export(out, args.model)
                evaluate.quick_report(args.model)
            except Exception as exc:  # a failed export must not stop the training
                print(f"diffusion: export failed: {exc!r}", flush=True)
            last_export = time.monotonic()
        if now > deadline and tr.step < tr.total:
            print(f"diffusion: time budget reached at step {tr.step}; run again to resume")
            break
    bar.close()
    print(f"diffusion: step {tr.step}, loss {float(avg):.4f}")
