"""The fast path on the CPU through OpenVINO draws the plain path's picture (SD and SDXL
layouts, sizes the upsamplers halve evenly and sizes they do not, batch and guidance), converts
a model once and finds the conversion on disk at the next start, leaves LoRA runs on torch
with a notice and the LoRA's own pixels, cancels between steps, and sends no telemetry."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine.loading.openvino_path import openvino_available

# openvino itself is not imported here: Studio imports it only with its telemetry kept out
pytestmark = pytest.mark.skipif(not openvino_available(), reason="OpenVINO is not installed")

from studio.config.paths import StudioPaths  # noqa: E402
from studio.engine.catalogue.registry import ModelRegistry  # noqa: E402
from studio.engine.loading.fast_path import FastPath, FastPathOptions  # noqa: E402
from studio.engine.previews.previewer import PreviewSettings  # noqa: E402
from studio.engine.run.cancel import CancelToken  # noqa: E402
from studio.engine.run.engine import Engine  # noqa: E402
from studio.engine.run.events import Cancelled, Event, Finished, Optimizing, Step  # noqa: E402
from studio.engine.run.request import GenerationRequest  # noqa: E402
from tests.tiny_families import build_tiny_sdxl  # noqa: E402
from tests.tiny_loras import write_diffusers_lora  # noqa: E402

# uint8 levels: OpenVINO's fp32 kernels sum in another order than torch's, nothing more
TOLERANCE_MAX, TOLERANCE_MEAN = 2, 0.05


def _engine(home: Path, fast_models: tuple[Path, ...] = (), engine: str = "auto") -> Engine:
    paths = StudioPaths.under(home)
    made = Engine(ModelRegistry(paths), device="cpu", previews=PreviewSettings(decoder="linear"))
    options = FastPathOptions(cache_dir=paths.cache_dir, engine=engine)
    made.fast_path = FastPath(models=tuple(str(m) for m in fast_models), options=options)
    return made


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, tiny_sd_model: Path) -> Path:
    folder = tmp_path_factory.mktemp("openvino-home")
    write_diffusers_lora(StudioPaths.under(folder).models_dir / "loras" / "ink.safetensors", tiny_sd_model,
                         seed=1, scale=0.3)
    return folder


@pytest.fixture(scope="module")
def sdxl_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sdxl(tmp_path_factory.mktemp("sdxl") / "tiny-sdxl")


@pytest.fixture(scope="module")
def engines(home: Path, tiny_sd_model: Path, sdxl_model: Path) -> tuple[Engine, Engine]:
    return _engine(home), _engine(home, (tiny_sd_model, sdxl_model))


def _request(model: Path, **changes: Any) -> GenerationRequest:
    base = GenerationRequest("a red circle", seed=5, steps=3, guidance=7.5, width=64, height=64, model=str(model))
    return base.replace(**changes)


def _run(engine: Engine, request: GenerationRequest) -> tuple[np.ndarray, Finished, list[Event]]:
    events: list[Event] = []
    outcome = engine.generate(request, events.append)
    assert isinstance(outcome, Finished), getattr(outcome, "details", outcome)
    return np.stack([np.asarray(i, dtype=np.int16) for i in outcome.images]), outcome, events


def _openvino_calls(engine: Engine) -> dict[str, int]:
    path = engine.fast_path._openvino
    assert path is not None
    return dict(path.calls)


def _assert_close(got: np.ndarray, expected: np.ndarray) -> None:
    difference = np.abs(got - expected)
    assert difference.max() <= TOLERANCE_MAX and difference.mean() <= TOLERANCE_MEAN, (
        difference.max(), difference.mean())


@pytest.mark.parametrize("changes", [
    {},
    {"width": 72, "height": 56},  # latents of 9x7: diffusers' upsamplers take their other branch
    {"batch": 2, "guidance": 1.0},  # no guidance batch, two pictures
])
def test_openvino_draws_the_plain_picture(engines: tuple[Engine, Engine], tiny_sd_model: Path,
                                          changes: dict[str, Any]) -> None:
    plain, fast = engines
    request = _request(tiny_sd_model, **changes)
    expected, _, _ = _run(plain, request)
    _run(fast, request.replace(seed=7))  # converts, and fits the previewer (which decodes too)
    before = _openvino_calls(fast)
    got, finished, _ = _run(fast, request)
    _assert_close(got, expected)
    calls = _openvino_calls(fast)
    # every step's UNet call and the final decode went through OpenVINO
    assert calls["unet"] - before["unet"] == request.steps
    assert calls["vae-decoder"] - before["vae-decoder"] == request.batch  # one picture at a time
    assert not finished.notices
    other, _, _ = _run(fast, request.replace(seed=6))
    assert np.abs(other - expected).mean() > 5  # the comparison can fail: another seed differs


def test_sdxl_draws_the_plain_picture(engines: tuple[Engine, Engine], sdxl_model: Path) -> None:
    plain, fast = engines
    request = _request(sdxl_model)
    expected, _, _ = _run(plain, request)
    _run(fast, request.replace(seed=7))
    before = _openvino_calls(fast)["unet"]
    got, _, _ = _run(fast, request)
    _assert_close(got, expected)
    assert _openvino_calls(fast)["unet"] - before == request.steps


def test_converted_once_and_found_on_disk_at_the_next_start(home: Path, tiny_sd_model: Path,
                                                            tmp_path: Path) -> None:
    request = _request(tiny_sd_model, steps=2)
    first = _engine(tmp_path, (tiny_sd_model,))
    image, _, events = _run(first, request)
    assert first.fast_path.openvino_conversions == 2  # the UNet and the VAE decoder
    told = [n for n, e in enumerate(events) if isinstance(e, Optimizing)]
    first_step = next(n for n, e in enumerate(events) if isinstance(e, Step))
    assert told and max(told) < first_step + request.steps + 1
    _again, _, events = _run(first, request.replace(seed=9, prompt="a blue square", guidance=3.0, steps=3))
    assert not [e for e in events if isinstance(e, Optimizing)]  # nothing new to convert or compile
    assert first.fast_path.openvino_conversions == 2
    second = _engine(tmp_path, (tiny_sd_model,))  # a new start: same cache folder
    again, _, _ = _run(second, request)
    assert second.fast_path.openvino_conversions == 0
    assert np.array_equal(again, image)
    assert len(list((StudioPaths.under(tmp_path).cache_dir / "openvino").iterdir())) == 2


def test_a_damaged_conversion_on_disk_is_converted_again(tiny_sd_model: Path, tmp_path: Path) -> None:
    request = _request(tiny_sd_model, steps=2)
    image, _, _ = _run(_engine(tmp_path, (tiny_sd_model,)), request)
    for xml in (StudioPaths.under(tmp_path).cache_dir / "openvino").glob("*/model.xml"):
        xml.write_text("<net")  # cut short, as by a full disk or a crash
    again = _engine(tmp_path, (tiny_sd_model,))
    got, _, _ = _run(again, request)
    assert again.fast_path.openvino_conversions == 2
    assert np.array_equal(got, image)


def test_a_lora_run_stays_on_torch_with_a_notice(engines: tuple[Engine, Engine], tiny_sd_model: Path) -> None:
    plain, fast = engines
    request = _request(tiny_sd_model, prompt="a red circle <lora:ink:1>")
    expected, _, _ = _run(plain, request)
    got, finished, _ = _run(fast, request)
    _assert_close(got, expected)  # the UNet on torch with the LoRA; the decoder still on OpenVINO
    assert any("OpenVINO" in n and "LoRA" in n for n in finished.notices)
    base, _, _ = _run(plain, _request(tiny_sd_model))
    assert np.abs(got - base).mean() > 1  # the LoRA did change the picture
    before = _openvino_calls(fast)["unet"]
    after_lora, finished, _ = _run(fast, _request(tiny_sd_model))  # LoRA switched off: OpenVINO again
    _assert_close(after_lora, base)
    assert _openvino_calls(fast)["unet"] == before + 3 and not finished.notices


def test_cancel_lands_between_steps(engines: tuple[Engine, Engine], tiny_sd_model: Path) -> None:
    _plain, fast = engines
    cancel = CancelToken()

    def on_event(event: Event) -> None:
        if isinstance(event, Step) and event.index == 2:
            cancel.cancel()

    outcome = fast.generate(_request(tiny_sd_model, steps=6), on_event, cancel)
    assert isinstance(outcome, Cancelled) and outcome.steps_done == 2


def test_torch_engine_keeps_torch_compile(home: Path, tiny_sd_model: Path, tmp_path: Path) -> None:
    engine = _engine(tmp_path, (tiny_sd_model,), engine="torch")
    pipe = engine.pipeline_for(engine.registry.resolve(str(tiny_sd_model)))
    assert engine.fast_path._openvino is None
    assert type(pipe.unet.down_blocks[0].forward).__name__ != "method"  # compiled by torch instead


def test_no_telemetry_module_is_loaded(engines: tuple[Engine, Engine], tiny_sd_model: Path) -> None:
    _run(engines[1], _request(tiny_sd_model, steps=1))
    # OpenVINO's converter reports usage over the network through this module; Studio keeps it out
    assert sys.modules.get("openvino_telemetry") is None
