"""Tiny LoRA and embedding files for the tiny models of tests/tiny_models.py and tiny_families.py.

The LoRAs are made with PEFT (`LoraConfig`, `get_peft_model_state_dict`) on the model's own UNet and
text encoders, then given seeded random weights in both halves: PEFT starts `lora_B` at zero, which
would leave the model's output unchanged, so B is drawn too and the LoRA really changes the picture.

- `write_diffusers_lora(path, model, *, rank=4, seed=0, scale=0.1, text_encoder=True, metadata=None)`
  writes the diffusers/PEFT layout (`unet.<module>.lora_A.weight`, `text_encoder.<module>.lora_B.weight`,
  `text_encoder_2.` for SDXL's second encoder), as `save_lora_weights` does.
- `write_kohya_lora(path, model, *, rank=4, alpha=None, seed=0, scale=0.1, text_encoder=True, metadata=None)`
  writes the same weights in the kohya/AUTOMATIC1111 layout (`lora_unet_<module_with_underscores>.lora_down
  .weight`, `.lora_up.weight`, `.alpha`; `lora_te_` for SD 1.x/2.x, `lora_te1_`/`lora_te2_` for SDXL).
  `alpha` defaults to the rank (scale 1); the kohya scale is alpha / rank.
- `write_embedding(path, *, width=768, vectors=2, seed=0, sdxl_widths=None, metadata=None)` writes an
  AUTOMATIC1111 textual-inversion file: `emb_params` [vectors, width], or with `sdxl_widths=(768, 1280)`
  the SDXL keys `clip_l` and `clip_g`. `embedding_width(model)` is the width a tiny model's text
  encoder takes.
- `kohya_metadata(tags, base="sd_v1", output_name=None)` is the training metadata kohya's trainer
  writes: `ss_tag_frequency` (a JSON string of {dataset: {tag: count}}), `ss_base_model_version`...

`model` is a diffusers folder (what `build_tiny_sd` returns) or a loaded pipeline; a pipeline is
never changed. With the same `seed` and model the diffusers and kohya files hold the same weights,
so both layouts must give the same picture. Every writer returns the path it wrote.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


def write_diffusers_lora(
    path: Path,
    model: Any,
    *,
    rank: int = 4,
    seed: int = 0,
    scale: float = 0.1,
    text_encoder: bool = True,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """A LoRA in the diffusers/PEFT layout, loadable by `pipe.load_lora_weights(path)`."""
    state = _lora_state(model, rank=rank, seed=seed, scale=scale, text_encoder=text_encoder)
    return _save(path, state, metadata)


def write_kohya_lora(
    path: Path,
    model: Any,
    *,
    rank: int = 4,
    alpha: float | None = None,
    seed: int = 0,
    scale: float = 0.1,
    text_encoder: bool = True,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """The same LoRA as `write_diffusers_lora` (same seed) in the kohya/AUTOMATIC1111 layout.

    With `alpha` other than the rank, lora_up is divided by alpha/rank so that the file still
    changes the model exactly as the diffusers file of the same seed does.
    """
    import torch

    sdxl = _components(model)[2] is not None
    state = _lora_state(model, rank=rank, seed=seed, scale=scale, text_encoder=text_encoder)
    alpha = float(rank) if alpha is None else float(alpha)
    out: dict[str, Any] = {}
    for key, tensor in state.items():
        part, _, rest = key.partition(".")
        module, _, which = rest.rpartition(".lora_")
        prefix = {"unet": "lora_unet", "text_encoder": "lora_te1" if sdxl else "lora_te",
                  "text_encoder_2": "lora_te2"}[part]
        if part != "unet" and not module.startswith("text_model."):
            module = f"text_model.{module}"  # the CLIP module path as kohya's files name it
        name = f"{prefix}_{module.replace('.', '_')}"
        if which == "A.weight":
            out[f"{name}.lora_down.weight"] = tensor
            out[f"{name}.alpha"] = torch.tensor(alpha)
        else:
            out[f"{name}.lora_up.weight"] = tensor * (rank / alpha)
    return _save(path, out, metadata)


def write_embedding(
    path: Path,
    *,
    width: int = 768,
    vectors: int = 2,
    seed: int = 0,
    sdxl_widths: tuple[int, int] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """A textual-inversion embedding as AUTOMATIC1111 saves it in safetensors."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    if sdxl_widths is None:
        state = {"emb_params": torch.randn(vectors, width, generator=generator) * 0.02}
    else:
        state = {
            "clip_l": torch.randn(vectors, sdxl_widths[0], generator=generator) * 0.02,
            "clip_g": torch.randn(vectors, sdxl_widths[1], generator=generator) * 0.02,
        }
    return _save(path, state, metadata)


def embedding_width(model: Any) -> int:
    """The token width of the (first) text encoder of `model`."""
    return int(_components(model)[1].config.hidden_size)


def kohya_metadata(
    tags: Mapping[str, int], *, base: str = "sd_v1", output_name: str | None = None, dataset: str = "10_subject"
) -> dict[str, str]:
    """Training metadata as kohya's sd-scripts write it into `__metadata__` (all values are strings)."""
    data = {
        "ss_base_model_version": base,
        "ss_tag_frequency": json.dumps({dataset: dict(tags)}),
        "ss_network_module": "networks.lora",
    }
    if output_name is not None:
        data["ss_output_name"] = output_name
    return data


def _lora_state(model: Any, *, rank: int, seed: int, scale: float, text_encoder: bool) -> dict[str, Any]:
    """{diffusers key: tensor} made by PEFT on copies of the model's parts, B non-zero."""
    import torch
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

    unet, encoder, encoder_2 = _components(model)
    parts: list[tuple[str, Any, tuple[str, ...]]] = [("unet", unet, UNET_TARGETS)]
    if text_encoder:
        parts.append(("text_encoder", encoder, TEXT_TARGETS))
        if encoder_2 is not None:
            parts.append(("text_encoder_2", encoder_2, TEXT_TARGETS))
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, Any] = {}
    for prefix, module, targets in parts:
        config = LoraConfig(r=rank, lora_alpha=rank, target_modules=list(targets), init_lora_weights=False)
        adapted = inject_adapter_in_model(config, copy.deepcopy(module))
        for key, tensor in sorted(get_peft_model_state_dict(adapted).items()):
            if ".lora_A." in key:  # A ~ N(0, 1/in) keeps each delta's size independent of the width
                drawn = torch.randn(tensor.shape, generator=generator) / tensor.shape[1] ** 0.5
            else:
                drawn = torch.randn(tensor.shape, generator=generator) * scale
            state[f"{prefix}.{key}"] = drawn.to(torch.float32).contiguous()
    return state


def _components(model: Any) -> tuple[Any, Any, Any]:
    """(unet, text_encoder, text_encoder_2 or None) of a pipeline or a diffusers folder."""
    if hasattr(model, "unet"):
        return model.unet, model.text_encoder, getattr(model, "text_encoder_2", None)
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    folder = Path(model)
    unet = UNet2DConditionModel.from_pretrained(str(folder), subfolder="unet")
    encoder = CLIPTextModel.from_pretrained(str(folder), subfolder="text_encoder")
    encoder_2 = None
    if (folder / "text_encoder_2").is_dir():
        encoder_2 = CLIPTextModelWithProjection.from_pretrained(str(folder), subfolder="text_encoder_2")
    return unet, encoder, encoder_2


def _save(path: Path, state: Mapping[str, Any], metadata: Mapping[str, str] | None) -> Path:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(dict(state), str(path), metadata=dict(metadata) if metadata else None)
    return path
