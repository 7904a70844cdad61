"""Reading what made an image: our own files, other tools' files, and files that are refused."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from studio.engine.run.request import GenerationRequest
from studio.library.metadata import UnreadableImage, read_metadata
from studio.library.pngchunks import RawChunk, write_chunks
from studio.library.store import save_image
from tests import library_samples as samples

# -- real files from other tools ---------------------------------------------------------------


def test_reads_real_automatic1111_file() -> None:
    meta = read_metadata(samples.INTEROP / "a1111_parameters.png")
    assert meta.source == "AUTOMATIC1111"
    assert (meta.prompt, meta.negative_prompt) == ("photo of a duck", "monochrome")
    assert (meta.seed, meta.steps, meta.guidance) == (235284042, 15, 5.0)
    assert (meta.width, meta.height) == (512, 400)
    assert (meta.sampler, meta.scheduler) == ("UniPC", "UniPC")
    assert meta.model == "realistic_realisticVisionV20_v20"
    assert meta.extras["Model hash"] == "c0d1994c73"
    assert meta.request is not None and meta.request.seed == 235284042
    assert meta.problems == []


def test_reads_real_comfyui_file() -> None:
    meta = read_metadata(samples.INTEROP / "comfyui_prompt_workflow.png")
    assert meta.source == "ComfyUI"
    assert meta.prompt == "photograph of victorian woman with wings, sky clouds, meadow grass"
    assert meta.negative_prompt == "watermark, text"
    assert (meta.seed, meta.steps, meta.guidance) == (280823642470253, 20, 8.0)
    assert meta.scheduler == "DPM++ 2M"
    assert meta.model == "v1-5-pruned-emaonly.ckpt"
    # img2img: no size in the graph, and a 64-bit seed Studio cannot reuse; both are noted.
    assert any("size" in p for p in meta.problems)
    assert any("Seed" in p for p in meta.problems)


def test_reads_real_invokeai_file() -> None:
    meta = read_metadata(samples.INTEROP / "invokeai_metadata.png")
    assert meta.source == "InvokeAI"
    assert meta.prompt == "digital artwork, oil painting. painterly brushstrokes, holidays,"
    assert meta.negative_prompt is not None and meta.negative_prompt.startswith("grainy+")
    assert (meta.seed, meta.steps, meta.guidance) == (3293022630, 35, 8.0)
    assert (meta.width, meta.height, meta.scheduler, meta.model) == (1024, 1024, "Euler", "juggernautXL")
    assert meta.request == GenerationRequest(
        prompt=meta.prompt,
        negative_prompt=meta.negative_prompt,
        seed=3293022630,
        steps=35,
        guidance=8.0,
        width=1024,
        height=1024,
        scheduler="Euler",
    )


# -- our own files -----------------------------------------------------------------------------


def test_studio_round_trip(tmp_path: Path) -> None:
    request = GenerationRequest(
        prompt='a "quoted", multi-line\nprompt: with colons',
        negative_prompt="blurry, Negative",
        seed=4294967295,
        steps=33,
        guidance=6.25,
        width=768,
        height=512,
        scheduler="DPM++ 2M Karras",
        model="demo",
    )
    path = save_image(Image.new("RGB", (32, 24), "white"), request, tmp_path)
    meta = read_metadata(path)
    assert meta.source == "Studio"
    assert meta.request == request
    assert meta.sampler == "DPM++ 2M Karras"
    assert meta.problems == []
    # The infotext alone (what other tools read) says the same.
    texts = samples.png_with_text(tmp_path / "a.png", {"parameters": _text(path, "parameters")})
    other = read_metadata(texts)
    assert other.source == "AUTOMATIC1111"
    assert (other.prompt, other.negative_prompt) == (request.prompt, request.negative_prompt)
    assert (other.seed, other.steps, other.guidance) == (4294967295, 33, 6.25)
    assert (other.width, other.height, other.scheduler, other.model) == (768, 512, "DPM++ 2M Karras", "demo")
    assert other.extras["Version"].startswith("Studio ")


def _text(path: Path, key: str) -> str:
    with Image.open(path) as image:
        return str(image.info[key])


# -- other dialects ----------------------------------------------------------------------------


def test_automatic1111_with_schedule_type_and_quoted_model(tmp_path: Path) -> None:
    path = samples.png_with_text(tmp_path / "a.png", {"parameters": samples.A1111_INFOTEXT})
    meta = read_metadata(path)
    assert meta.prompt == "masterpiece, a castle on a hill, (dramatic light:1.2)"
    assert (meta.sampler, meta.scheduler) == ("DPM++ 2M", "DPM++ 2M Karras")
    assert (meta.width, meta.height, meta.model) == (768, 512, "v1-5, pruned")


@pytest.mark.parametrize(
    ("prefix", "codec", "fmt"),
    [
        (b"UNICODE\0", "utf-16-be", "JPEG"),
        (b"UNICODE\0", "utf-16-le", "JPEG"),
        (b"ASCII\0\0\0", "ascii", "JPEG"),
        (b"UNICODE\0", "utf-16-be", "WEBP"),
    ],
)
def test_automatic1111_exif_user_comment(tmp_path: Path, prefix: bytes, codec: str, fmt: str) -> None:
    text = samples.A1111_INFOTEXT.replace('Model: "v1-5, pruned"', "Model: sd15")
    path = samples.jpeg_with_user_comment(tmp_path / f"a.{fmt.lower()}", prefix + text.encode(codec), fmt)
    meta = read_metadata(path)
    assert meta.source == "AUTOMATIC1111"
    assert meta.prompt == "masterpiece, a castle on a hill, (dramatic light:1.2)"
    assert (meta.negative_prompt, meta.seed, meta.model) == ("lowres, blurry", 3141592, "sd15")


def test_comfyui_graph_through_intermediate_nodes(tmp_path: Path) -> None:
    path = samples.png_with_text(tmp_path / "c.png", {"prompt": json.dumps(samples.COMFY_GRAPH)})
    meta = read_metadata(path)
    assert meta.source == "ComfyUI"
    assert meta.prompt == "a lighthouse at night, stars"
    assert meta.negative_prompt == "fog, text"
    assert (meta.seed, meta.steps, meta.guidance) == (987654321, 30, 5.5)
    assert (meta.sampler, meta.scheduler) == ("euler_ancestral", "Euler a")
    assert (meta.width, meta.height) == (832, 1216)
    assert meta.model == "sdxl_base.safetensors"
    assert meta.problems == []


def test_comfyui_workflow_is_the_fallback(tmp_path: Path) -> None:
    texts = {"prompt": "{not json", "workflow": json.dumps(samples.COMFY_WORKFLOW)}
    meta = read_metadata(samples.png_with_text(tmp_path / "w.png", texts))
    assert meta.source == "ComfyUI"
    assert (meta.prompt, meta.negative_prompt) == ("a red bicycle", "rust")
    assert (meta.seed, meta.steps, meta.guidance) == (42, 25, 7.0)
    assert meta.scheduler == "DPM++ 2M Karras"
    assert (meta.width, meta.height, meta.model) == (512, 768, "dreamshaper_8.safetensors")
    assert any("workflow" in p for p in meta.problems)


def test_invokeai_2_sd_metadata_and_dream(tmp_path: Path) -> None:
    for key, value in (("sd-metadata", json.dumps(samples.SD_METADATA)), ("Dream", samples.DREAM)):
        meta = read_metadata(samples.png_with_text(tmp_path / f"{key}.png", {key: value}))
        assert meta.source == "InvokeAI"
        assert meta.prompt == "a cozy cabin in the woods"
        assert meta.negative_prompt == "people, watermark"
        assert (meta.seed, meta.steps, meta.guidance) == (2929292929, 50, 7.5)
        assert (meta.width, meta.height, meta.scheduler) == (640, 512, "Euler a")


def test_fooocus_json_parameters(tmp_path: Path) -> None:
    texts = {"parameters": json.dumps(samples.FOOOCUS), "fooocus_scheme": "fooocus"}
    meta = read_metadata(samples.png_with_text(tmp_path / "f.png", texts))
    assert meta.source == "Fooocus"
    assert (meta.prompt, meta.negative_prompt) == ("a fox in a field", "")
    assert (meta.seed, meta.steps, meta.guidance) == (5811118213, 30, 4.0)
    assert (meta.width, meta.height, meta.model) == (1152, 896, "juggernautXL_v8Rundiffusion")
    assert meta.sampler == "dpmpp_2m_sde_gpu" and meta.scheduler is None
    assert any("dpmpp_2m_sde_gpu" in p for p in meta.problems)


def test_novelai(tmp_path: Path) -> None:
    meta = read_metadata(samples.png_with_text(tmp_path / "n.png", samples.novelai_texts()))
    assert meta.source == "NovelAI"
    assert (meta.prompt, meta.negative_prompt) == ("1girl, silver hair, night city, neon", "lowres, bad anatomy")
    assert (meta.seed, meta.steps, meta.guidance) == (1234567890, 28, 5.0)
    assert (meta.width, meta.height, meta.scheduler) == (832, 1216, "Euler a")
    assert meta.model == "NovelAI Diffusion V3 4BDE2A90"


def test_malformed_metadata_gives_partial_results(tmp_path: Path) -> None:
    texts = {"invokeai_metadata": json.dumps({"positive_prompt": "a boat", "steps": "many", "seed": [1]})}
    meta = read_metadata(samples.png_with_text(tmp_path / "m.png", texts))
    assert meta.prompt == "a boat" and meta.steps is None and meta.seed is None
    broken = read_metadata(samples.png_with_text(tmp_path / "b.png", {"invokeai_metadata": "{oops"}))
    assert broken.prompt is None and broken.problems
    plain = read_metadata(samples.png_with_text(tmp_path / "p.png", {}))
    assert plain.prompt is None and (plain.width, plain.height) == (8, 8)
    assert "no generation metadata" in plain.problems[-1]


# -- refused files ------------------------------------------------------------------------------


def test_refuses_empty_non_image_and_truncated(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    good = save_image(Image.new("RGB", (64, 64), "red"), GenerationRequest("x", seed=1), tmp_path)
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    cut_jpeg = tmp_path / "cut.jpg"
    data = samples.jpeg_with_user_comment(tmp_path / "j.jpg", b"ASCII\0\0\0hi").read_bytes()
    cut_jpeg.write_bytes(data[:-100])
    for path, reason in (
        (empty, "empty"),
        (text, "not an image"),
        (cut, "truncated"),
        (cut_jpeg, "truncated"),
    ):
        with pytest.raises(UnreadableImage, match=reason):
            read_metadata(path)


def test_refuses_decompression_bomb_and_huge_text(tmp_path: Path) -> None:
    bomb = samples.bomb_png(tmp_path / "bomb.png", 64 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    with pytest.raises(UnreadableImage, match="decompression bomb"):
        read_metadata(bomb)
    huge = samples.png_with_text(tmp_path / "huge.png", {"parameters": "x" * (9 * 1024 * 1024)})
    with pytest.raises(UnreadableImage, match="larger than Studio reads"):
        read_metadata(huge)


def test_refuses_absurd_pixel_count(tmp_path: Path) -> None:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = write_chunks(
        [
            RawChunk(b"IHDR", header),
            RawChunk(b"IDAT", zlib.compress(b"\0" * 64)),
            RawChunk(b"IEND", b""),
        ]
    )
    path = tmp_path / "wide.png"
    path.write_bytes(data)
    with pytest.raises(UnreadableImage, match="pixels"):
        read_metadata(path)


def test_cyclic_and_odd_comfyui_graphs_do_not_raise(tmp_path: Path) -> None:
    graph = {
        "1": {"class_type": "KSampler", "inputs": {"positive": ["2", 0], "negative": ["2", 1], "seed": ["3", 0]}},
        "2": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["2", 0], "conditioning_2": 5}},
        "3": {"class_type": "Primitive", "inputs": {"value": ["3", 0]}},
        "4": "not a node",
    }
    meta = read_metadata(samples.png_with_text(tmp_path / "cycle.png", {"prompt": json.dumps(graph)}))
    assert meta.source == "ComfyUI" and meta.prompt is None and meta.seed is None
    assert any("positive input" in p for p in meta.problems)
