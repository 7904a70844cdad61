"""Files made to hurt: metadata that would hang a parser, numbers too big for the index,
films that claim hours, names and prompts that are not safe to print. Each is read in bounded
time and memory, keeps what can be kept, and says in words what was dropped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from studio.cli import main
from studio.engine.run.request import GenerationRequest
from studio.library.index import GalleryIndex
from studio.library.metadata import ImageMetadata, read_metadata
from studio.library.metadata.a1111 import parse_infotext
from studio.library.pngchunks import RawChunk, encode_itxt, read_raw_chunks, write_chunks
from studio.library.store import save_image

ROOT = Path(__file__).resolve().parent.parent
# A quadratic algorithm on these inputs takes minutes; linear ones take milliseconds.
HANG_TIMEOUT_S = 60


def _png(path: Path, texts: dict[str, str] | None = None, private: dict[bytes, bytes] | None = None) -> Path:
    """An 8x8 PNG holding exactly these iTXt and private chunks, written byte by byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (30, 60, 90)).save(path)
    chunks = read_raw_chunks(path)
    extra = [RawChunk(b"iTXt", encode_itxt(k, v)) for k, v in (texts or {}).items()]
    extra += [RawChunk(kind, data) for kind, data in (private or {}).items()]
    path.write_bytes(write_chunks([chunks[0], *extra, *chunks[1:]]))
    return path


def _run_python(code: str, *, timeout: float = HANG_TIMEOUT_S, memory_mb: int | None = None) -> str:
    """Run `code` in a fresh interpreter; fail the test if it runs past `timeout` or errs."""
    prelude = ""
    if memory_mb is not None:
        prelude = (
            "import resource\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({memory_mb} << 20, {memory_mb} << 20))\n"
        )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    try:
        result = subprocess.run(
            [sys.executable, "-"], input=prelude + textwrap.dedent(code),
            capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"did not finish within {timeout} s")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


# -- 1. AUTOMATIC1111: linear-time settings line ---------------------------------------------------

# The pattern AUTOMATIC1111 itself uses, kept here as the reference for what the settings mean.
_REFERENCE = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


@pytest.mark.parametrize(
    "line",
    [
        "a" * 200_000,  # one long word, no colon
        "a b-c/d " * 25_000,  # key characters only
        'k: "x,' * 40_000,  # quotes that never close
        "Steps: 1, " + "x, " * 60_000 + "Seed: 2",
    ],
    ids=["word", "key-chars", "open-quotes", "many-commas"],
)
def test_infotext_settings_line_is_parsed_in_linear_time(line: str) -> None:
    out = _run_python(
        f"""
        from studio.library.metadata.a1111 import parse_infotext
        meta = parse_infotext("a prompt\\n" + {line!r})
        print(meta.prompt[:8])
        """
    )
    assert out.startswith("a prompt")


def test_infotext_settings_match_the_reference_pattern() -> None:
    """The hand-written scanner finds the same pairs as AUTOMATIC1111's pattern."""
    import random

    from studio.library.metadata.a1111 import settings_pairs

    rng = random.Random(1234)
    alphabet = 'ab :,"\\-/ 1x'
    cases = [
        'Steps: 20, Sampler: Euler a, CFG scale: 7, Model: "v1-5, pruned", Version: v1',
        'A: "x\\"y", B: "", C: "z" q, D: 1',
        "  -x: 1, ab: 2, a b: 3,c/d: ,",
    ]
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))) for _ in range(4000)]
    for case in cases:
        assert settings_pairs(case) == _REFERENCE.findall(case), case


def test_infotext_longer_than_studio_reads_is_cut_with_a_note() -> None:
    meta = parse_infotext("a fox " * 100_000 + "\nSteps: 5, Sampler: Euler, Seed: 3")
    assert meta.prompt is not None and meta.prompt.startswith("a fox")
    assert any("characters" in p and "read" in p for p in meta.problems)


# -- 2. ComfyUI: every graph walk visits a node once -----------------------------------------------


def _diamond_chain(levels: int) -> dict[str, object]:
    """Each combine node takes both its inputs from the next: 2**levels paths to the text."""
    graph: dict[str, object] = {
        "t": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse"}},
        "n": {"class_type": "CLIPTextEncode", "inputs": {"text": "fog"}},
        "l": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512}},
    }
    for level in range(levels):
        below = ["t", 0] if level == levels - 1 else [f"c{level + 1}", 0]
        graph[f"c{level}"] = {
            "class_type": "ConditioningCombine",
            "inputs": {"conditioning_1": below, "conditioning_2": below},
        }
    graph["k"] = {
        "class_type": "KSampler",
        "inputs": {"seed": 1, "steps": 10, "cfg": 7, "sampler_name": "euler", "scheduler": "normal",
                   "positive": ["c0", 0], "negative": ["n", 0], "latent_image": ["l", 0]},
    }  # fmt: skip
    return graph


def test_comfyui_diamond_chain_is_walked_once_per_node() -> None:
    graph = json.dumps(_diamond_chain(40))
    out = _run_python(
        f"""
        import json
        from studio.library.metadata.comfyui import parse_prompt_graph
        meta = parse_prompt_graph(json.loads({graph!r}))
        print(json.dumps([meta.prompt, meta.negative_prompt]))
        """
    )
    assert json.loads(out) == ["a lighthouse", "fog"]


def test_comfyui_cycles_end() -> None:
    graph = {
        "a": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["b", 0], "conditioning_2": ["b", 0]}},
        "b": {"class_type": "ConditioningCombine", "inputs": {"conditioning_1": ["a", 0], "conditioning_2": ["b", 0]}},
        "s": {"class_type": "PrimitiveNode", "inputs": {"value": ["s", 0]}},
        "l": {"class_type": "LatentUpscale", "inputs": {"samples": ["l", 0]}},
        "m": {"class_type": "LoraLoader", "inputs": {"model": ["m", 0]}},
        "k": {"class_type": "KSampler",
              "inputs": {"seed": ["s", 0], "steps": ["s", 0], "cfg": 7, "sampler_name": "euler",
                         "positive": ["a", 0], "negative": ["b", 0], "latent_image": ["l", 0],
                         "model": ["m", 0]}},
    }  # fmt: skip
    out = _run_python(
        f"""
        from studio.library.metadata.comfyui import parse_prompt_graph
        meta = parse_prompt_graph({graph!r})
        print(meta.prompt, meta.seed, meta.width, meta.model)
        print("|".join(meta.problems))
        """
    )
    first, problems = out.splitlines()
    assert first == "None None None None"
    assert "Could not follow the sampler's positive input to a prompt." in problems


def test_comfyui_workflow_with_odd_ids_is_read_without_errors(tmp_path: Path) -> None:
    workflow = {
        "nodes": [
            {"id": [1], "type": "KSampler", "inputs": [{"name": "positive", "link": [9]}],
             "widgets_values": [1, 10, 7, "euler", "normal"]},
            {"id": {"x": 1}, "type": "CLIPTextEncode"},
        ],
        "links": [[[9], 1, 0, 2, 0, "CONDITIONING"]],
    }  # fmt: skip
    meta = read_metadata(_png(tmp_path / "w.png", {"workflow": json.dumps(workflow)}))
    assert meta.steps == 10
    assert not any("Error" in p for p in meta.problems), meta.problems


# -- 3, 4. Numbers: range-checked before the index; the rest is kept -------------------------------

HUGE = str(10**22)
DIGITS = "7" * 5000


@pytest.mark.parametrize(
    ("texts", "dropped"),
    [
        ({"parameters": f"a red kite\nSteps: {HUGE}, Sampler: Euler, CFG scale: 7, Seed: 4, Size: 512x512"}, "steps"),
        ({"parameters": f"a red kite\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: {DIGITS}, Size: 64x64"}, "seed"),
        ({"parameters": "a red kite\nSteps: 20, Sampler: Euler, CFG scale: 1e999, Seed: 4, Size: 64x64"}, "guidance"),
        ({"parameters": f"a red kite\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 4, Size: {HUGE}x8"}, "width"),
        ({"parameters": "a red kite\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: -5, Size: 64x64"}, "seed"),
        ({"invokeai_metadata": f'{{"positive_prompt": "a red kite", "seed": {DIGITS}, "steps": 20}}'}, "seed"),
        ({"invokeai_metadata": f'{{"positive_prompt": "a red kite", "width": {HUGE}, "steps": 20}}'}, "width"),
        ({"parameters": f'{{"prompt": "a red kite", "steps": 20, "resolution": "({DIGITS}, 8)"}}',
          "fooocus_scheme": "fooocus"}, "width"),
        ({"Software": "NovelAI", "Description": "a red kite",
          "Comment": f'{{"prompt": "a red kite", "steps": {HUGE}, "scale": NaN}}'}, "steps"),
        ({"prompt": json.dumps({"k": {"class_type": "KSampler", "inputs": {
            "seed": 10**30, "steps": 20, "cfg": 7, "positive": "a red kite"}}})}, "seed"),
        ({"Dream": f'"a red kite" -s {HUGE} -S 3'}, "steps"),
        ({"studio": json.dumps({"schema": 1, "created": 1e300, "rating": 10**22, "request": {
            "prompt": "a red kite", "steps": 10**22, "seed": 3, "batch": 10**22}})}, "steps"),
    ],
    ids=["a1111-steps", "a1111-seed-digits", "a1111-cfg-inf", "a1111-size", "a1111-negative-seed",
         "invokeai-seed-digits", "invokeai-width", "fooocus-resolution", "novelai", "comfyui-seed",
         "dream", "studio"],
)  # fmt: skip
def test_numbers_out_of_range_are_dropped_with_a_note(tmp_path: Path, texts: dict[str, str], dropped: str) -> None:
    meta = read_metadata(_png(tmp_path / "kite.png", texts))
    assert meta.prompt == "a red kite"
    # a size the metadata gets wrong falls back to the picture's own (8x8)
    assert getattr(meta, dropped) == (8 if dropped == "width" else None)
    assert any("dropped" in p for p in meta.problems), meta.problems
    assert all(len(p) < 300 and "Error" not in p for p in meta.problems), meta.problems
    _assert_numbers_in_range(meta)
    with GalleryIndex(tmp_path / "i.sqlite3", tmp_path) as index:
        assert index.add(tmp_path / "kite.png").prompt == "a red kite"
        assert index.search("kite") == [tmp_path / "kite.png"]


def _assert_numbers_in_range(meta: ImageMetadata) -> None:
    for value in (meta.seed, meta.steps, meta.width, meta.height):
        assert value is None or 0 <= value < 2**64
    assert meta.guidance is None or abs(meta.guidance) <= 1000
    assert meta.created is None or 0 <= meta.created < 1e12
    assert 0 <= meta.rating <= 5
    if meta.request is not None:
        assert meta.request.problems() == [] or all(len(p) < 300 for p in meta.request.problems())
        assert 1 <= meta.request.batch <= 16 and 1 <= meta.request.steps <= 10_000


def test_a_huge_number_does_not_hide_the_other_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "gallery"
    for i, prompt in enumerate(("a stone bridge", "a lantern")):
        save_image(Image.new("RGB", (8, 8)), GenerationRequest(prompt, seed=i), folder)
    _png(folder / "foreign.png", {"parameters": f"a copper kettle\nSteps: {HUGE}, Sampler: Euler, Seed: 1"})
    assert main(["gallery", "search", "a", "--gallery", str(folder)]) == 0
    found = capsys.readouterr().out.splitlines()
    assert len(found) == 3 and str(folder / "foreign.png") in found
    assert main(["info", str(folder / "foreign.png")]) == 0
    out = capsys.readouterr().out
    assert "Prompt: a copper kettle" in out and "Problem: " in out and "dropped" in out


def test_index_add_checks_the_numbers_it_is_given(tmp_path: Path) -> None:
    path = _png(tmp_path / "given.png")
    meta = ImageMetadata(prompt="a given owl", steps=10**22, seed=2**70, guidance=float("inf"), created=1e300)
    with GalleryIndex(tmp_path / "i.sqlite3", tmp_path) as index:
        row = index.add(path, meta)
        assert (row.prompt, row.steps, row.seed, row.guidance) == ("a given owl", None, None, None)
        assert row.created < 1e12


# -- 5. Films: bounded before anything is allocated ------------------------------------------------


def _film_png(path: Path, header: dict[str, object] | bytes, frames: int = 100, duration: int = 16_000_000) -> Path:
    import io
    import struct

    images = [Image.new("RGB", (1, 1), (i, 0, 0)) for i in range(frames)]
    movie = io.BytesIO()
    images[0].save(movie, format="WEBP", save_all=True, append_images=images[1:], duration=duration, lossless=True)
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    data = b"\x01" + struct.pack(">I", len(raw)) + raw + movie.getvalue()
    return _png(path, private={b"stFm": data})


def test_film_frames_claiming_hours_are_refused_without_exhausting_memory(tmp_path: Path) -> None:
    path = _film_png(tmp_path / "hours.png", {"steps": 10_000, "frame_ms": 1, "size": [1, 1]})
    assert path.stat().st_size < 8_000
    out = _run_python(
        f"""
        from studio.library.film import FilmError, read_film
        try:
            read_film({str(path)!r})
        except FilmError as error:
            print(error)
        """,
        memory_mb=1500,
    )
    assert "damaged" in out


@pytest.mark.parametrize(
    "header",
    [
        {"steps": 1e999, "frame_ms": 50, "size": [1, 1]},
        {"steps": 10, "frame_ms": 1e999, "size": [1, 1]},
        {"steps": 10, "frame_ms": 50, "size": {"a": 1, "b": 1}},
        {"steps": 10, "frame_ms": 50, "size": [1, 1, 1]},
        b"[" * 100_000,
        b"7" * 5000,
    ],
    ids=["steps-inf", "unit-inf", "size-dict", "size-three", "nested", "digits"],
)
def test_film_headers_that_are_nonsense_give_a_film_error(tmp_path: Path, header: object) -> None:
    from studio.library.film import FilmError, read_film

    path = _film_png(tmp_path / "odd.png", header, frames=3, duration=50)  # type: ignore[arg-type]
    with pytest.raises(FilmError, match="damaged"):
        read_film(path)


def test_studio_film_on_a_hostile_film_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _film_png(tmp_path / "hours.png", {"steps": 200, "frame_ms": 1, "size": [1, 1]}, frames=3)
    assert main(["film", str(path), str(tmp_path / "out.webp")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("studio film: error: ") and "damaged" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out.webp").exists()


# -- 6. Printing: valid JSON for any file name, no terminal escapes from a prompt -------------------


def test_info_json_is_valid_for_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xff\x1b[2J.png")
    _png(tmp_path / name, {"parameters": "a kite\x1b[2J\x07\nSteps: 5, Sampler: Euler, Seed: 1"})
    result = subprocess.run(
        [sys.executable, "-m", "studio", "info", "--json", name],
        capture_output=True, timeout=120, cwd=tmp_path, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout.decode("utf-8"))  # strict UTF-8: no raw 0xff byte
    assert item["path"] == "caf\\xff\x1b[2J.png"
    assert item["prompt"] == "a kite\x1b[2J\x07"  # JSON keeps the text as it is


def test_info_text_escapes_control_characters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    infotext = "a kite\x1b[2J\x9b\nline two\nSteps: 5, Sampler: Euler, Seed: 1"
    path = _png(tmp_path / "k\x1b]0;x\x07.png", {"parameters": infotext})
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "Prompt: a kite\\x1b[2J\\x9b\n    line two" in out
    assert "k\\x1b]0;x\\x07.png" in out


def test_gallery_search_prints_names_safely(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _png(tmp_path / "g" / "a\x1b[2J.png", {"parameters": "a quiet pond\nSteps: 5, Sampler: Euler, Seed: 1"})
    assert main(["gallery", "search", "pond", "--gallery", str(tmp_path / "g")]) == 0
    out = capsys.readouterr().out
    assert out == f"{tmp_path / 'g'}/a\\x1b[2J.png\n"


# -- 7. Temporaries of killed writers --------------------------------------------------------------


def test_temporaries_are_never_indexed_and_stale_ones_are_removed(tmp_path: Path) -> None:
    folder = tmp_path / "gallery"
    kept = save_image(Image.new("RGB", (8, 8)), GenerationRequest("a tin robot", seed=1), folder)
    robot = {"parameters": "a tin robot\nSteps: 5, Sampler: Euler, Seed: 1"}
    stale = _png(folder / "sub" / ".tmp-0123456789ab.png", robot)
    fresh = _png(folder / ".tmp-ba9876543210.png", robot)
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    with GalleryIndex(tmp_path / "i.sqlite3", folder) as index:
        index.reconcile()
        assert index.search("robot") == [kept]
        assert not stale.exists() and fresh.exists()  # a live writer may still be filling it
        with pytest.raises(ValueError, match="temporary"):
            index.add(fresh)
        assert index.search("robot") == [kept]


def test_a_name_that_is_not_utf8_does_not_hide_the_gallery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "gallery"
    kept = save_image(Image.new("RGB", (8, 8)), GenerationRequest("a tin robot", seed=1), folder)
    robot = {"parameters": "a tin robot\nSteps: 5, Sampler: Euler, Seed: 1"}
    odd = _png(folder / os.fsdecode(b"robot-\xff.png"), robot)
    with GalleryIndex(tmp_path / "i.sqlite3", folder) as index:
        report = index.reconcile()
        assert index.search("robot") == [kept]
        assert "not valid UTF-8" in report.skipped[odd]
    assert main(["gallery", "rebuild", "--gallery", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "Skipped " in err and "robot-\\xff.png" in err and "1 images in the index, 1 skipped." in err


def test_a_pipe_named_like_an_image_is_refused_not_waited_on(tmp_path: Path) -> None:
    pipe = tmp_path / "waiting.png"
    os.mkfifo(pipe)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "studio", "info", str(pipe)],
            capture_output=True, text=True, timeout=HANG_TIMEOUT_S, cwd=ROOT, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("studio info waited on a pipe")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"{pipe}: could not be read: This is not a regular file.\n"
