"""Generate › Optimize this model: the toggle writes the settings, follows the picker, and
reaches an engine that is already warm at its next run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.app import ChosenFastModels, make_engine
from studio.config.paths import StudioPaths
from studio.config.settings import Settings
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.loading.fast_path import FastPath, FastPathOptions
from studio.engine.previews.previewer import PreviewSettings
from studio.engine.run.engine import Engine
from studio.engine.run.events import Finished, Optimizing
from studio.engine.run.request import GenerationRequest
from tests.ui_helpers import OFFSCREEN_NOISE, link_model, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


def _compiled(engine: Engine, model: Path) -> bool:
    pipe = engine.pipeline_for(engine.registry.resolve(str(model)))
    return type(pipe.unet.down_blocks[0].forward).__name__ != "method"


def test_a_warm_model_takes_the_fast_path_from_the_run_after_it_is_chosen(tmp_path, tiny_sd_model):
    paths = StudioPaths.under(tmp_path)
    settings = Settings()
    engine = Engine(ModelRegistry(paths), device="cpu", previews=PreviewSettings(decoder="linear"))
    # aot_eager runs dynamo and its guards without generating C++ (the benchmark measures inductor)
    options = FastPathOptions(backend="aot_eager", cache_dir=paths.cache_dir, engine="torch")
    engine.fast_path = FastPath(ChosenFastModels(settings), options)
    request = GenerationRequest("a red circle", seed=5, steps=2, width=64, height=64, model=str(tiny_sd_model))
    events: list[object] = []
    assert isinstance(engine.generate(request, events.append), Finished)
    assert not _compiled(engine, tiny_sd_model)
    assert not any(isinstance(e, Optimizing) for e in events)

    settings.fast_path_models = [str(tiny_sd_model)]
    events.clear()
    assert isinstance(engine.generate(request, events.append), Finished)
    assert _compiled(engine, tiny_sd_model)
    assert sum(isinstance(e, Optimizing) for e in events) == 1


def test_the_app_engine_reads_the_choice_when_asked(tmp_path, tiny_sd_model):
    settings = Settings()
    engine = make_engine(ModelRegistry(StudioPaths.under(tmp_path)), settings)
    assert not engine.fast_path.wanted(str(tiny_sd_model), tiny_sd_model)
    settings.fast_path_models = [str(tiny_sd_model)]
    assert engine.fast_path.wanted(str(tiny_sd_model), tiny_sd_model)
    assert list(engine.fast_path.models) == [str(tiny_sd_model)]


def _choose(window, wanted) -> None:
    box = window.parameters.model_box
    for i in range(box.count()):
        box.setCurrentIndex(i)
        current = window.parameters.current_model()
        if current is not None and wanted(current.id):
            return
    raise AssertionError("no such model in the picker")


def test_the_menu_toggle_saves_the_choice_and_follows_the_picker(qtbot, tmp_path, tiny_sd_model, shared_engine):
    paths = StudioPaths.under(tmp_path / "home")
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    _choose(window, lambda id_: id_ == model_id)
    action = window.fast_path_toggle.action
    assert action.isEnabled() and not action.isChecked()

    action.trigger()
    assert window.settings.fast_path_models == [model_id]
    assert "fast path" in window.statusBar().currentMessage()
    assert json.loads(paths.settings_file.read_text())["fast_path_models"] == [model_id]

    _choose(window, lambda id_: id_ != model_id)
    assert not action.isChecked()  # the choice is per model
    _choose(window, lambda id_: id_ == model_id)
    assert action.isChecked()
    action.trigger()
    assert window.settings.fast_path_models == []
    assert json.loads(paths.settings_file.read_text())["fast_path_models"] == []
