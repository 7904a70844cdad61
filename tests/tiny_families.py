"""Tiny models of each family, and tiny single-file checkpoints in the original (LDM) layout.

The LDM layout is what CompVis' and Stability's training code saved and what most downloaded
.safetensors checkpoints use; the mapping below is the reverse of diffusers' own converter,
generalised to any number of blocks and layers.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.tiny_models import build_tiny_sd, byte_level_vocab

_RESNET = [("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("out_layers.0", "norm2"),
           ("out_layers.3", "conv2"), ("emb_layers.1", "time_emb_proj"),
           ("skip_connection", "conv_shortcut")]
_UNET_TOP = [("time_embed.0.", "time_embedding.linear_1."), ("time_embed.2.", "time_embedding.linear_2."),
             ("input_blocks.0.0.", "conv_in."), ("out.0.", "conv_norm_out."), ("out.2.", "conv_out."),
             ("label_emb.0.0.", "add_embedding.linear_1."), ("label_emb.0.2.", "add_embedding.linear_2.")]


def _unet_prefixes(blocks: int, layers: int) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for i in range(blocks):
        for j in range(layers):
            pairs.append((f"input_blocks.{(layers + 1) * i + j + 1}.0.", f"down_blocks.{i}.resnets.{j}."))
            pairs.append((f"input_blocks.{(layers + 1) * i + j + 1}.1.", f"down_blocks.{i}.attentions.{j}."))
        for j in range(layers + 1):
            pairs.append((f"output_blocks.{(layers + 1) * i + j}.0.", f"up_blocks.{i}.resnets.{j}."))
            pairs.append((f"output_blocks.{(layers + 1) * i + j}.1.", f"up_blocks.{i}.attentions.{j}."))
        if i < blocks - 1:
            pairs.append((f"input_blocks.{(layers + 1) * (i + 1)}.0.op.", f"down_blocks.{i}.downsamplers.0.conv."))
    pairs.append(("middle_block.1.", "mid_block.attentions.0."))
    pairs += [(f"middle_block.{2 * j}.", f"mid_block.resnets.{j}.") for j in range(2)]
    return pairs


def unet_to_ldm(unet: Any) -> dict[str, Any]:
    config = unet.config
    blocks, layers = len(config.block_out_channels), int(config.layers_per_block)
    prefixes = _unet_prefixes(blocks, layers)
    out: dict[str, Any] = {}
    for key, value in unet.state_dict().items():
        new = key
        for sd, hf in _UNET_TOP:
            new = new.replace(hf, sd) if new.startswith(hf) else new
        for i, block in enumerate(unet.up_blocks):
            if new.startswith(f"up_blocks.{i}.upsamplers.0."):
                slot = 2 if getattr(block, "attentions", None) else 1
                new = new.replace(f"up_blocks.{i}.upsamplers.0.",
                                  f"output_blocks.{(layers + 1) * i + layers}.{slot}.")
        if "resnets" in new:
            for sd, hf in _RESNET:
                new = new.replace(hf, sd)
        for sd, hf in prefixes:
            if new.startswith(hf):
                new = sd + new[len(hf):]
        out["model.diffusion_model." + new] = value
    return out


def vae_to_ldm(vae: Any) -> dict[str, Any]:
    blocks = len(vae.config.block_out_channels)
    layers = int(vae.config.layers_per_block)
    pairs = [("nin_shortcut", "conv_shortcut"), ("norm_out", "conv_norm_out"),
             ("mid.attn_1.", "mid_block.attentions.0.")]
    for i in range(blocks):
        pairs += [(f"encoder.down.{i}.block.{j}.", f"encoder.down_blocks.{i}.resnets.{j}.")
                  for j in range(layers)]
        pairs += [(f"decoder.up.{blocks - 1 - i}.block.{j}.", f"decoder.up_blocks.{i}.resnets.{j}.")
                  for j in range(layers + 1)]
        if i < blocks - 1:
            pairs.append((f"down.{i}.downsample.", f"down_blocks.{i}.downsamplers.0."))
            pairs.append((f"up.{blocks - 1 - i}.upsample.", f"up_blocks.{i}.upsamplers.0."))
    pairs += [(f"mid.block_{i + 1}.", f"mid_block.resnets.{i}.") for i in range(2)]
    attn = [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."),
            ("proj_out.", "to_out.0.")]
    out: dict[str, Any] = {}
    for key, value in vae.state_dict().items():
        new = key
        for sd, hf in pairs:
            new = new.replace(hf, sd)
        if "attentions" in key:
            for sd, hf in attn:
                new = new.replace(hf, sd)
            if new.endswith(("q.weight", "k.weight", "v.weight", "proj_out.weight")) and value.ndim == 2:
                value = value.reshape(*value.shape, 1, 1)
        out["first_stage_model." + new] = value
    return out


def clip_to_ldm(encoder: Any, prefix: str) -> dict[str, Any]:
    """An OpenAI CLIP text encoder as SD 1.x and SDXL's first encoder store it."""
    return {prefix + (k if k.startswith("text_model.") else "text_model." + k): v
            for k, v in encoder.state_dict().items()}


def open_clip_to_ldm(encoder: Any, prefix: str) -> dict[str, Any]:
    """A CLIP text encoder in OpenCLIP's layout (SD 2.x, SDXL's second encoder)."""
    import torch

    hf = {k if k.startswith(("text_model.", "text_projection")) else "text_model." + k: v
          for k, v in encoder.state_dict().items()}
    top = {"positional_embedding": "embeddings.position_embedding.weight",
           "token_embedding.weight": "embeddings.token_embedding.weight",
           "ln_final.weight": "final_layer_norm.weight", "ln_final.bias": "final_layer_norm.bias"}
    out = {prefix + ldm: hf["text_model." + key] for ldm, key in top.items()}
    if "text_projection.weight" in hf:
        out[prefix + "text_projection"] = hf["text_projection.weight"].T
    parts = {"attn.out_proj": "self_attn.out_proj", "ln_1": "layer_norm1", "ln_2": "layer_norm2",
             "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2"}
    for i in range(encoder.config.num_hidden_layers):
        src, dst = f"text_model.encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
        for kind in ("weight", "bias"):
            qkv = [hf[f"{src}self_attn.{p}_proj.{kind}"] for p in "qkv"]
            out[f"{dst}attn.in_proj_{kind}"] = torch.cat(qkv)
            for ldm, key in parts.items():
                out[f"{dst}{ldm}.{kind}"] = hf[f"{src}{key}.{kind}"]
    return out


def pipeline_to_ldm(pipe: Any, family: str) -> dict[str, Any]:
    """A pipeline's weights in the original single-file layout of its family."""
    state = unet_to_ldm(pipe.unet)
    state.update(vae_to_ldm(pipe.vae))
    if family == "SD 1.x":
        state.update(clip_to_ldm(pipe.text_encoder, "cond_stage_model.transformer."))
    elif family == "SD 2.x":
        state.update(open_clip_to_ldm(pipe.text_encoder, "cond_stage_model.model."))
    else:
        state.update(clip_to_ldm(pipe.text_encoder, "conditioner.embedders.0.transformer."))
        state.update(open_clip_to_ldm(pipe.text_encoder_2, "conditioner.embedders.1.model."))
    return {k: v.contiguous() for k, v in state.items()}


def build_tiny_checkpoint(
    folder: Path, *, family: str = "SD 1.x", suffix: str = ".safetensors"
) -> tuple[Path, Path, Path]:
    """(checkpoint file, its sidecar config folder, the diffusers folder it came from)."""
    import diffusers
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    build = build_tiny_sdxl if family == "SDXL" else build_tiny_sd
    source = build(folder / "source")
    index = (source / "model_index.json").read_text()
    cls = getattr(diffusers, index.split('"_class_name": "')[1].split('"')[0])
    state = pipeline_to_ldm(cls.from_pretrained(str(source), local_files_only=True), family)
    config = folder / "tiny.config"  # the sidecar Studio looks for next to the file
    shutil.copytree(source, config, ignore=shutil.ignore_patterns("*.safetensors"))
    file = folder / f"tiny{suffix}"
    if suffix == ".safetensors":
        save_file(state, str(file))
    else:
        torch.save({"state_dict": state, "global_step": 1}, str(file))
    return file, config, source


def build_tiny_sdxl(folder: Path, seed: int = 0) -> Path:
    """Two text encoders of different widths, as in SDXL (the loader tells them apart by it)."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=6 * 8 + 48, cross_attention_dim=32 + 48,
        norm_num_groups=4,
    )
    vae = _tiny_vae(latent_channels=4)
    tokenizer = CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=32)

    def text_config(width: int) -> Any:
        return CLIPTextConfig(
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, hidden_size=width, intermediate_size=37,
            num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer),
            max_position_embeddings=32, projection_dim=width, hidden_act="gelu",
        )

    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        timestep_spacing="leading", steps_offset=1,
    )
    pipe = StableDiffusionXLPipeline(
        unet=unet, vae=vae, text_encoder=CLIPTextModel(text_config(32)),
        text_encoder_2=CLIPTextModelWithProjection(text_config(48)), tokenizer=tokenizer,
        tokenizer_2=tokenizer, scheduler=scheduler,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def _tiny_vae(latent_channels: int, **extra: Any) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16), in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=latent_channels, norm_num_groups=4, sample_size=32, **extra,
    )


def tiny_t5(seed: int = 0) -> tuple[Any, Any]:
    """A tiny T5 encoder and a word-level T5 tokenizer built without the hub."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    words = ["<pad>", "</s>", "<unk>", *"abcdefghijklmnopqrstuvwxyz0123456789"]
    vocab = {w: i for i, w in enumerate(words)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
        model_max_length=16,
    )
    torch.manual_seed(seed)
    encoder = T5EncoderModel(T5Config(
        vocab_size=len(words), d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
        relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1,
        decoder_start_token_id=0,
    ))
    return encoder, tokenizer


def _tiny_clip(seed: int, projection: bool = True) -> tuple[Any, Any]:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    tokenizer = CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=16)
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, hidden_size=32, intermediate_size=37,
        num_attention_heads=4, num_hidden_layers=2, vocab_size=len(tokenizer),
        max_position_embeddings=16, projection_dim=32, hidden_act="gelu",
    )
    model = CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)
    return model, tokenizer


def build_tiny_sd3(folder: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline

    torch.manual_seed(seed)
    transformer = SD3Transformer2DModel(
        sample_size=16, patch_size=1, in_channels=16, num_layers=1, attention_head_dim=8,
        num_attention_heads=4, caption_projection_dim=32, joint_attention_dim=32,
        pooled_projection_dim=64, out_channels=16,
    )  # 16 latent channels, as SD3's own VAE has: its inpainting pipeline accepts no other
    encoder, tokenizer = _tiny_clip(seed + 1)
    encoder_2, tokenizer_2 = _tiny_clip(seed + 2)
    encoder_3, tokenizer_3 = tiny_t5(seed + 3)
    vae = _tiny_vae(latent_channels=16, shift_factor=0.0609, scaling_factor=1.5035,
                    use_quant_conv=False, use_post_quant_conv=False)
    pipe = StableDiffusion3Pipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0), vae=vae,
        text_encoder=encoder, tokenizer=tokenizer, text_encoder_2=encoder_2,
        tokenizer_2=tokenizer_2, text_encoder_3=encoder_3, tokenizer_3=tokenizer_3,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def build_tiny_flux(folder: Path, seed: int = 0) -> Path:
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
        num_attention_heads=2, joint_attention_dim=32, pooled_projection_dim=32,
        axes_dims_rope=[4, 4, 8],
    )
    encoder, tokenizer = _tiny_clip(seed + 1, projection=False)
    encoder_2, tokenizer_2 = tiny_t5(seed + 2)
    vae = _tiny_vae(latent_channels=4, shift_factor=0.0609, scaling_factor=1.5035,
                    use_quant_conv=False, use_post_quant_conv=False)
    pipe = FluxPipeline(
        transformer=transformer, scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae,
        text_encoder=encoder, tokenizer=tokenizer, text_encoder_2=encoder_2,
        tokenizer_2=tokenizer_2,
    )
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder
