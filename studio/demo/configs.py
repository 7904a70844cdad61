"""Architectures of the demo model's components, as diffusers/transformers config dicts."""

from __future__ import annotations

from typing import Any

MAX_TOKENS = 32  # tokenizer model_max_length == text encoder max_position_embeddings
TEXT_HIDDEN = 128

VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "down_block_types": ["DownEncoderBlock2D"] * 3,
    "up_block_types": ["UpDecoderBlock2D"] * 3,
    "block_out_channels": [32, 64, 64],
    "layers_per_block": 1,
    "norm_num_groups": 16,
    "sample_size": 64,
    "mid_block_add_attention": False,
}

UNET: dict[str, Any] = {
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "block_out_channels": [32, 64, 128],
    "layers_per_block": 1,
    "cross_attention_dim": TEXT_HIDDEN,
    "attention_head_dim": 4,
    "norm_num_groups": 16,
}

# Zero terminal SNR: at the last timestep no trace of the image (its background color) is left
# in the noise, so the model has to read the colors from the prompt.
SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "timestep_spacing": "trailing",
    "steps_offset": 1,
}


def text_encoder(vocab_size: int, bos_id: int, eos_id: int, pad_id: int) -> dict[str, Any]:
    return {
        "vocab_size": vocab_size,
        "hidden_size": TEXT_HIDDEN,
        "intermediate_size": 4 * TEXT_HIDDEN,
        "num_hidden_layers": 3,
        "num_attention_heads": 4,
        "max_position_embeddings": MAX_TOKENS,
        "projection_dim": TEXT_HIDDEN,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
    }
