"""Image files as other tools write them, built in-process for the library tests."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

INTEROP = Path("/work/shared/interop")
USER_COMMENT = 0x9286
EXIF_IFD = 0x8769


def png_with_text(path: Path, texts: dict[str, str], size: tuple[int, int] = (8, 8)) -> Path:
    info = PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    Image.new("RGB", size, (40, 90, 160)).save(path, pnginfo=info)
    return path


def jpeg_with_user_comment(path: Path, comment: bytes, fmt: str = "JPEG") -> Path:
    image = Image.new("RGB", (16, 16), (200, 100, 50))
    exif = image.getexif()
    exif.get_ifd(EXIF_IFD)[USER_COMMENT] = comment
    image.save(path, format=fmt, exif=exif)
    return path


def bomb_png(path: Path, inflated_bytes: int) -> Path:
    """A small PNG whose zTXt chunk inflates to `inflated_bytes`."""
    info = PngInfo()
    info.add(b"zTXt", b"parameters\0\0" + zlib.compress(b"a" * inflated_bytes, 9))
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    return path


A1111_INFOTEXT = (
    "masterpiece, a castle on a hill, (dramatic light:1.2)\n"
    "Negative prompt: lowres, blurry\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592, "
    'Size: 768x512, Model hash: 6ce0161689, Model: "v1-5, pruned", Version: v1.10.1'
)

COMFY_GRAPH = {
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl_base.safetensors"}},
    "10": {
        "class_type": "LoraLoader",
        "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "style.safetensors"},
    },
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 832, "height": 1216, "batch_size": 1}},
    "20": {"class_type": "PrimitiveNode", "inputs": {"value": 987654321}},
    "21": {"class_type": "String Literal", "inputs": {"string": "a lighthouse at night, stars"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": ["21", 0], "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncodeSDXL", "inputs": {"text_g": "fog, text", "text_l": "fog"}},
    "11": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "canny.safetensors"}},
    "12": {
        "class_type": "ControlNetApplyAdvanced",
        "inputs": {"positive": ["6", 0], "negative": ["7", 0], "control_net": ["11", 0]},
    },
    "13": {"class_type": "ConditioningSetTimestepRange", "inputs": {"conditioning": ["12", 1]}},
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": ["20", 0],
            "steps": 30,
            "cfg": 5.5,
            "sampler_name": "euler_ancestral",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["10", 0],
            "positive": ["12", 0],
            "negative": ["13", 0],
            "latent_image": ["5", 0],
        },
    },
    "30": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 1,
            "steps": 10,
            "cfg": 3.0,
            "sampler_name": "dpmpp_2m",
            "scheduler": "karras",
            "model": ["10", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["3", 0],
        },
    },
}

COMFY_WORKFLOW = {
    "nodes": [
        {"id": 4, "type": "CheckpointLoaderSimple", "widgets_values": ["dreamshaper_8.safetensors"]},
        {"id": 5, "type": "EmptyLatentImage", "widgets_values": [512, 768, 1]},
        {"id": 6, "type": "CLIPTextEncode", "widgets_values": ["a red bicycle"]},
        {"id": 7, "type": "CLIPTextEncode", "widgets_values": ["rust"]},
        {
            "id": 3,
            "type": "KSampler",
            "inputs": [
                {"name": "positive", "link": 1},
                {"name": "negative", "link": 2},
                {"name": "latent_image", "link": 3},
            ],
            "widgets_values": [42, "fixed", 25, 7, "dpmpp_2m", "karras", 1],
        },
    ],
    "links": [[1, 6, 0, 3, 1, "CONDITIONING"], [2, 7, 0, 3, 2, "CONDITIONING"], [3, 5, 0, 3, 3, "LATENT"]],
}

SD_METADATA = {
    "model": "stable diffusion",
    "model_weights": "stable-diffusion-1.5",
    "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
    "app_id": "invoke-ai/InvokeAI",
    "app_version": "2.2.5",
    "image": {
        "prompt": [{"prompt": "a cozy cabin in the woods [people, watermark]", "weight": 1.0}],
        "steps": 50,
        "cfg_scale": 7.5,
        "threshold": 0,
        "perlin": 0,
        "height": 512,
        "width": 640,
        "seed": 2929292929,
        "seamless": False,
        "hires_fix": False,
        "type": "txt2img",
        "postprocessing": None,
        "sampler": "k_euler_a",
        "variations": [],
    },
}

DREAM = '"a cozy cabin in the woods [people, watermark]" -s 50 -S 2929292929 -W 640 -H 512 -C 7.5 -A k_euler_a'

FOOOCUS = {
    "adm_guidance": "(1.5, 0.8, 0.3)",
    "base_model": "juggernautXL_v8Rundiffusion",
    "base_model_hash": "aeb7e9e689",
    "full_negative_prompt": ["(worst quality, low quality:1.4)"],
    "full_prompt": ["a fox in a field, highly detailed"],
    "guidance_scale": 4,
    "loras": [],
    "metadata_scheme": "fooocus",
    "negative_prompt": "",
    "performance": "Speed",
    "prompt": "a fox in a field",
    "refiner_model": "None",
    "refiner_switch": 0.5,
    "resolution": "(1152, 896)",
    "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "seed": "5811118213",
    "sharpness": 2,
    "steps": 30,
    "styles": "['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']",
    "vae": "Default (model)",
    "version": "Fooocus v2.4.3",
}

NOVELAI_COMMENT = {
    "prompt": "1girl, silver hair, night city, neon",
    "steps": 28,
    "height": 1216,
    "width": 832,
    "scale": 5.0,
    "uncond_scale": 1.0,
    "cfg_rescale": 0.0,
    "seed": 1234567890,
    "n_samples": 1,
    "noise_schedule": "native",
    "sampler": "k_euler_ancestral",
    "uc": "lowres, bad anatomy",
    "request_type": "PromptGenerateRequest",
}


def novelai_texts() -> dict[str, str]:
    return {
        "Title": "AI generated image",
        "Description": "1girl, silver hair, night city, neon",
        "Software": "NovelAI",
        "Source": "NovelAI Diffusion V3 4BDE2A90",
        "Generation time": "3.1",
        "Comment": json.dumps(NOVELAI_COMMENT),
    }
