"""A style chosen in the real window, run on the real engine: the model sees the styled prompt,
the image records the style and the prompt as typed, and reuse brings both back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.config.paths import StudioPaths
from studio.config.styles import Style
from studio.engine.run.events import Finished
from studio.ui.events import Idle, Saved
from tests.ui_helpers import OFFSCREEN_NOISE, EventLog, link_model, open_window, set_small_run, wait_event

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


def test_a_chosen_style_is_applied_and_recorded(qtbot, tmp_path: Path, tiny_sd_model, shared_engine) -> None:  # type: ignore[no-untyped-def]
    paths = StudioPaths.under(tmp_path / "home")
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    picker = window.controls.styles
    picker.store.put(Style("oil", "an oil painting of {prompt}", "blurry"))
    picker.store.put(Style("night", "at night", ""))
    assert (paths.config_dir / "styles.csv").is_file()
    picker.set_chosen(["oil", "night"])
    assert picker.text() == "Styles: oil, night"
    set_small_run(window, model_id, prompt="a red circle", steps=2, seed=5)
    log = EventLog(window.controller)
    with wait_event(qtbot, window.controller, Idle):
        qtbot.mouseClick(window.generate_button, Qt.MouseButton.LeftButton)
    ran = log.of(Finished)[0].request
    assert ran.prompt == "an oil painting of a red circle, at night"
    saved = Path(log.of(Saved)[0].path)
    with Image.open(saved) as image:
        assert image.text["parameters"].startswith("an oil painting of a red circle, at night\n")
        recorded = json.loads(image.text["studio"])["request"]
    assert recorded["styles"] == ["oil", "night"] and recorded["prompt_before_styles"] == "a red circle"
    assert window.parameters.prompt.toPlainText() == "a red circle"  # the box keeps what was typed

    picker.set_chosen([])
    window.parameters.prompt.setPlainText("other")
    window.controls.apply_request(log.of(Saved)[0].metadata.request)
    assert window.parameters.prompt.toPlainText() == "a red circle"
    assert picker.chosen_names() == ["oil", "night"]


def test_importing_a_hostile_styles_file_says_what_was_left_out(qtbot, tmp_path: Path, shared_engine) -> None:  # type: ignore[no-untyped-def]
    paths = StudioPaths.under(tmp_path / "home")
    window = open_window(qtbot, paths, shared_engine)
    source = tmp_path / "styles.csv"
    source.write_text('name,prompt,negative_prompt\nink,"ink, {prompt}",\n,x,\n', encoding="utf-8")
    words = window.controls.styles.import_file(source)
    assert words == "Imported 1 style from styles.csv. Not imported: Line 3: the style has no name; skipped."
    assert window.controls.styles.store.names() == ["ink"]
