"""The tiny autoencoder decoder, found inside a model folder, and the forward-noising view."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")


def _distilled_tiny_decoder(vae: Any, folder: Path) -> float:
    """Build a small AutoencoderTiny from its config, train its decoder briefly to
    match `vae` on encoded pictures, save it to `folder`; returns its held-out PSNR in dB."""
    from diffusers import AutoencoderTiny

    from studio.engine.previews.linear import vae_scale
    from studio.engine.previews.synthetic import synthetic_images

    torch.manual_seed(0)
    tiny = AutoencoderTiny(
        encoder_block_out_channels=(8, 8), decoder_block_out_channels=(8, 8),
        num_encoder_blocks=(1, 1), num_decoder_blocks=(1, 1), latent_channels=4,
    )
    pictures = torch.from_numpy(synthetic_images(24, 16 * vae_scale(vae), seed=11))
    with torch.no_grad():
        raw = vae.encode(pictures).latent_dist.mean
        target = vae.decode(raw).sample
    latents = raw * vae.config.scaling_factor
    optimizer = torch.optim.Adam(tiny.decoder.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.mse_loss(tiny.decode(latents[8:]).sample, target[8:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        mse = float(((tiny.decode(latents[:8]).sample.clamp(-1, 1) - target[:8]) / 2).pow(2).mean())
    tiny.save_pretrained(str(folder), safe_serialization=True)
    return 10 * float(np.log10(1 / mse))


@pytest.fixture(scope="module")
def model_with_tiny(tiny_sd_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    from diffusers import AutoencoderKL

    folder = tmp_path_factory.mktemp("models") / "tiny-with-taesd"
    shutil.copytree(tiny_sd_model, folder)
    vae = AutoencoderKL.from_pretrained(str(folder / "vae"))
    psnr = _distilled_tiny_decoder(vae, folder / "taesd")
    return folder, psnr


def _engine(model: Path, settings: Any) -> Any:
    from studio.config.paths import StudioPaths
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    paths = StudioPaths.under(Path(settings.cache_dir).parent)
    return Engine(ModelRegistry(paths), device="cpu", dtype="fp32", previews=settings)


def _request(model: Path, steps: int = 5, scheduler: str = "Euler") -> Any:
    from studio.engine.run.request import GenerationRequest

    return GenerationRequest(
        prompt="a red square", steps=steps, width=32, height=32, model=str(model), seed=2,
        scheduler=scheduler, guidance=3.0,
    )


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def test_tiny_folder_inside_the_model_is_found(model_with_tiny: Any, tmp_path: Path) -> None:
    from studio.engine.previews.decoders import find_tiny_folder

    folder, _ = model_with_tiny
    assert find_tiny_folder(folder) == folder / "taesd"
    assert find_tiny_folder(tmp_path) is None
    assert find_tiny_folder(tmp_path, folder / "taesd") == folder / "taesd"  # the user's choice


def test_asking_for_a_missing_tiny_decoder_says_why(tiny_sd_model: Path, tmp_path: Path) -> None:
    from diffusers import StableDiffusionPipeline

    from studio.engine.previews.previewer import PreviewSettings, make_previewer

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd_model), safety_checker=None)
    settings = PreviewSettings(decoder="tiny", cache_dir=tmp_path)
    previewer = make_previewer("other", pipe, settings, model_path=tiny_sd_model)
    assert "tiny" not in previewer.decoders and "linear decoder" in previewer.note
    latents = torch.zeros(1, 4, 8, 8)
    assert previewer.preview(latents).shape == (8, 8, 3)
    assert previewer.last_decoder == "linear"


def test_tiny_previews_are_full_size_and_close_to_the_vae(
    model_with_tiny: Any, tmp_path: Path
) -> None:
    from studio.engine.previews.previewer import PreviewSettings

    folder, distilled_psnr = model_with_tiny
    settings = PreviewSettings(decoder="tiny", cache_dir=tmp_path / "cache")
    engine = _engine(folder, settings)
    events: list[Any] = []
    outcome = engine.generate(_request(folder), events.append)
    assert outcome.kind == "finished"
    previewer = next(iter(engine._previewers.values()))
    assert previewer.last_decoder == "tiny"
    last = [e for e in events if e.kind == "step"][-1].preview
    assert last.shape == np.asarray(outcome.images[0]).shape  # the tiny decoder upsamples
    # on the VAE's own latent space the tiny decoder is within a PSNR threshold of the VAE
    assert distilled_psnr >= 14.0
    pipe = engine.pipeline_for(engine.registry.resolve(str(folder)))
    image = torch.from_numpy(np.array(outcome.images[0])).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        raw = pipe.vae.encode(image / 127.5 - 1).latent_dist.mean
        full = ((pipe.vae.decode(raw).sample[0].permute(1, 2, 0) + 1) * 127.5).clamp(0, 255)
    tiny = previewer.decoders["tiny"].decode(raw[0] * pipe.vae.config.scaling_factor)
    linear = previewer.decoders["linear"].decode(raw[0] * pipe.vae.config.scaling_factor)
    small = np.asarray(Image.fromarray(full.byte().numpy()).resize(linear.shape[1::-1]))
    assert _psnr(tiny, full.byte().numpy()) >= 13.0
    assert _psnr(linear, small) >= 14.0


def test_auto_uses_the_tiny_decoder_only_within_its_budget(
    model_with_tiny: Any, tmp_path: Path
) -> None:
    from studio.engine.previews.previewer import BUDGETS, PreviewSettings

    folder, _ = model_with_tiny
    engine = _engine(folder, PreviewSettings(decoder="auto", cache_dir=tmp_path / "cache"))
    used: list[str] = []
    outcome = engine.generate(_request(folder, steps=8), lambda e: None)
    assert outcome.kind == "finished"
    previewer = next(iter(engine._previewers.values()))
    assert "tiny" in previewer.decoders
    used.append(previewer.last_decoder)
    tiny_ratio = [r for (name, _), r in previewer.ratios.items() if name == "tiny"]
    assert tiny_ratio, "auto measured the tiny decoder once it knew the step time"
    expected = "tiny" if tiny_ratio[0] <= BUDGETS["tiny"] else "linear"
    assert previewer.last_decoder == expected


def test_forward_noise_follows_the_schedulers_alphas(tiny_sd_model: Path) -> None:
    from diffusers import StableDiffusionPipeline

    from studio.engine.previews.forward import noised_latents, noised_preview
    from studio.engine.previews.linear import fit_linear

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_sd_model), safety_checker=None)
    picture = Image.new("RGB", (32, 32), (200, 40, 40))
    clean = noised_latents(pipe, picture, 0.0)
    half = noised_latents(pipe, picture, 0.5, seed=1)
    abar = pipe.scheduler.alphas_cumprod[round(0.5 * 999)]
    noise = (half - abar.sqrt() * clean) / (1 - abar).sqrt()
    assert abs(float(noise.std()) - 1.0) < 0.15  # what is left is unit Gaussian noise
    assert abs(float(noise.mean())) < 0.15
    full = noised_latents(pipe, picture, 1.0, seed=1)
    assert float(torch.corrcoef(torch.stack([full.flatten(), clean.flatten()]))[0, 1]) < 0.2
    shown = noised_preview(pipe, picture, 0.3, decoder=fit_linear(pipe.vae))
    assert shown.size == (16, 16)  # one pixel per latent: the linear view
    assert noised_preview(pipe, picture, 0.3).size == (32, 32)
    with pytest.raises(ValueError, match="fraction from 0 to 1"):
        noised_latents(pipe, picture, 1.5)
