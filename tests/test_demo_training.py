"""The demo model's training stages, run for a few real steps each on tiny budgets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from studio.demo import checkpoint, train

DEMO = Path(__file__).resolve().parents[1] / "resources" / "models" / "studio-shapes"
TINY = ["--device", "cpu", "--threads", "2", "--vae-batch", "2", "--batch", "4", "--dataset-size", "256"]


def _run(*args: str) -> None:
    assert train.main([*args, *TINY]) == 0


def test_vae_and_diffusion_stages_checkpoint_resume_and_export(tmp_path: Path) -> None:
    from diffusers import StableDiffusionPipeline

    out, model = tmp_path / "run", tmp_path / "model"
    _run("--stage", "vae", "--out", str(out), "--vae-steps", "2")
    assert checkpoint.load(out / "vae.pt")["step"] == 2  # type: ignore[index]
    _run("--stage", "vae", "--out", str(out), "--vae-steps", "3")  # resumes, one more step
    assert checkpoint.load(out / "vae.pt")["step"] == 3  # type: ignore[index]

    _run("--stage", "diffusion", "--out", str(out), "--steps", "2")
    state = checkpoint.load(out / "diffusion.pt")
    assert state is not None and state["step"] == 2 and state["total"] == 2
    _run("--stage", "export", "--out", str(out), "--model", str(model))
    pipe = StableDiffusionPipeline.from_pretrained(str(model))
    latents = checkpoint.load(out / "latents.pt")
    assert latents is not None
    assert pipe.vae.config.scaling_factor == pytest.approx(float(latents["scale"]), rel=1e-4)
    assert (model / "studio_preview.json").is_file() and (model / "tokenizer" / "merges.txt").is_file()


def test_warm_start_continues_from_an_exported_model(tmp_path: Path) -> None:
    warm, cold = tmp_path / "warm", tmp_path / "cold"
    _run("--stage", "diffusion", "--out", str(warm), "--init-from", str(DEMO), "--steps", "1")
    _run("--stage", "vae", "--out", str(cold), "--vae-steps", "1")
    _run("--stage", "diffusion", "--out", str(cold), "--steps", "1")
    # The demo's own autoencoder and scale are kept, and its denoiser already knows the pictures.
    adopted = checkpoint.load(warm / "latents.pt")
    assert adopted is not None
    assert float(adopted["scale"]) == pytest.approx(0.2841, abs=1e-3)
    losses = [checkpoint.load(folder / "diffusion.pt") for folder in (warm, cold)]
    assert losses[0] is not None and losses[1] is not None
    assert losses[0]["loss"] < 0.3 < losses[1]["loss"]


def test_decoder_stage_keeps_the_encoder_and_replaces_the_decoder(tmp_path: Path) -> None:
    from diffusers import AutoencoderKL
    from safetensors import safe_open

    model = tmp_path / "model"
    shutil.copytree(DEMO, model)
    before = AutoencoderKL.from_pretrained(str(model / "vae"))
    _run("--stage", "decoder", "--out", str(tmp_path / "run"), "--model", str(model), "--decoder-steps", "2")
    after = AutoencoderKL.from_pretrained(str(model / "vae"))
    # The denoiser was trained on the encoder's latents: they must not move.
    for name, tensor in before.encoder.state_dict().items():
        assert torch.equal(tensor, after.encoder.state_dict()[name]), name
    decoder = after.decoder.state_dict()
    assert any(not torch.equal(tensor, decoder[name]) for name, tensor in before.decoder.state_dict().items())
    with safe_open(str(model / "vae" / "diffusion_pytorch_model.safetensors"), "pt") as weights:
        assert {weights.get_slice(k).get_dtype() for k in weights.keys()} == {"F16"}
    assert not (model / "vae.old").exists() and not (model / "vae.tmp").exists()
    assert "_name_or_path" not in (model / "vae" / "config.json").read_text()


def test_decoder_stage_resumed_mid_block_trains_on_the_same_pictures(tmp_path: Path) -> None:
    from studio.demo import train_decoder

    def run(out: Path, model: Path, steps: int) -> None:
        train_decoder.train(model, out, steps, seed=0, minutes=None, device="cpu", batch=2)

    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    for folder in (straight, resumed):
        shutil.copytree(DEMO, folder / "model")
    run(straight / "run", straight / "model", 3)
    run(resumed / "run", resumed / "model", 1)
    run(resumed / "run", resumed / "model", 3)  # resumes at step 1, inside the first block of 100
    a, b = (checkpoint.load(folder / "run" / "decoder.pt") for folder in (straight, resumed))
    assert a is not None and b is not None and a["step"] == b["step"] == 3
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name


def test_border_loss_sees_only_the_outer_ring() -> None:
    from studio.demo import train_decoder

    x = torch.zeros(1, 3, 64, 64)
    framed, inner = x.clone(), x.clone()
    framed[..., 0, :] = 0.3  # a light top row
    inner[..., 20:40, 20:40] = 0.3
    assert train_decoder.border_loss(framed, x) > 0.01
    assert float(train_decoder.border_loss(inner, x)) == 0.0
    assert train_decoder.edge_step(framed) > 0.05 > train_decoder.edge_step(inner)
