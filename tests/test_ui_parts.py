"""The window's parts on their own: canvas scaling, token counts, error dialogs, cold start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QMessageBox

from studio.engine.run.request import GenerationRequest
from studio.ui.errors import ErrorReporter
from studio.ui.events import Delivered, JobEvent
from studio.ui.jobs import JobModel
from studio.ui.parameters import aspect_size
from studio.ui.preview import PreviewView, fit_rect, image_from_array
from studio.ui.queue_panel import QueuePanel
from studio.ui.results import ResultsModel, ResultsStrip
from studio.ui.run_status import RunStatus
from studio.ui.tokens import TokenCounter
from studio.ui.worker import LatestValue
from tests.ui_helpers import OFFSCREEN_NOISE

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)
ROOT = Path(__file__).resolve().parent.parent


def test_enlarging_uses_whole_number_zoom_and_shrinking_fits():
    assert fit_rect(QSize(64, 64), QRect(0, 0, 600, 400)) == QRect(108, 8, 384, 384)  # 6x
    assert fit_rect(QSize(64, 32), QRect(0, 0, 100, 100)) == QRect(18, 34, 64, 32)  # 1x, not 1.56x
    shrunk = fit_rect(QSize(1024, 512), QRect(0, 0, 256, 256))
    assert (shrunk.width(), shrunk.height()) == (256, 128)


def test_canvas_paints_a_tiny_preview_with_sharp_pixel_edges(qtbot):
    view = PreviewView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    checker = np.zeros((8, 8, 3), dtype=np.uint8)
    checker[::2, ::2] = 255
    checker[1::2, 1::2] = 255
    view.show_array(checker, QSize(64, 64))
    view.show()
    qtbot.waitExposed(view)
    grabbed = view.grab().toImage()
    rect = view.image_rect()
    zoom = rect.width() // 8
    assert zoom >= 2 and rect.width() == 8 * zoom
    # every painted pixel is pure black or pure white: nothing was blurred
    values = {
        grabbed.pixelColor(rect.left() + x, rect.top() + y).red()
        for x in range(0, rect.width(), 3)
        for y in range(0, rect.height(), 3)
    }
    assert values == {0, 255}
    assert view.paint_count >= 1


def test_image_from_array_copies_the_pixels():
    array = np.zeros((4, 6, 3), dtype=np.uint8)
    array[1, 2] = (10, 20, 30)
    image = image_from_array(array)
    array[1, 2] = (0, 0, 0)  # the QImage owns its own copy
    assert (image.width(), image.height()) == (6, 4)
    color = image.pixelColor(2, 1)
    assert (color.red(), color.green(), color.blue()) == (10, 20, 30)


def test_latest_value_tells_the_reader_once_and_keeps_the_newest():
    box = LatestValue()
    assert box.put(1) is True
    assert box.put(2) is False  # the reader was already told
    assert box.take() == 2
    assert box.take() is None
    assert box.put(3) is True


def test_aspect_presets_keep_the_pixel_count_and_multiples_of_8():
    assert aspect_size(64 * 64, 1, 1) == (64, 64)
    width, height = aspect_size(512 * 512, 16, 9)
    assert width % 8 == 0 and height % 8 == 0 and width > height
    assert abs(width * height - 512 * 512) / (512 * 512) < 0.05


def test_token_count_matches_the_models_own_tokenizer(tiny_sd_model):
    from transformers import CLIPTokenizer

    limit = json.loads((tiny_sd_model / "tokenizer" / "tokenizer_config.json").read_text())[
        "model_max_length"
    ]
    counter = TokenCounter.for_model(tiny_sd_model, limit)
    assert counter is not None and counter.limit == limit
    reference = CLIPTokenizer.from_pretrained(tiny_sd_model / "tokenizer")
    for text in ["a red circle", "  Two   spaces, CAPS & café!", "it's a dog's life", ""]:
        assert counter.count(text) == len(reference(text).input_ids)


def test_no_tokenizer_files_means_no_counter(tmp_path):
    assert TokenCounter.for_model(tmp_path, 77) is None


def test_user_text_is_shown_as_plain_text(qtbot):
    hostile = "<b>bold</b> <img src=x> &amp;"
    request = GenerationRequest(prompt=hostile, seed=3, steps=2, width=64, height=64)
    jobs = JobModel()
    queue = QueuePanel(jobs)
    qtbot.addWidget(queue)
    running = jobs.add(request)
    jobs.set_running(running)
    jobs.add(request)
    assert hostile in queue.shown.index(1, 0).data()
    assert "&lt;b&gt;bold&lt;/b&gt;" in queue.shown.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    strip = ResultsStrip(ResultsModel(jobs))
    qtbot.addWidget(strip)
    jobs.add(request)
    done = jobs.jobs()[-1]
    event = JobEvent(done.id, Delivered([np.zeros((64, 64, 3), np.uint8)], ["/tmp/<i>x</i>.png"], 1.0))
    jobs.apply(event)
    strip.model().on_event(event)
    tooltip = strip.model().index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert "&lt;b&gt;bold&lt;/b&gt;" in tooltip and "<b>" not in tooltip and "&lt;i&gt;x" in tooltip


def test_progress_shows_step_speed_and_time_left(qtbot):
    status = RunStatus()
    qtbot.addWidget(status)
    status.start(20)
    status.step(5, 20, 2.0)  # 2.5 it/s, 15 steps left
    assert status.state.text() == "Step 5/20"
    assert status.stats.text() == "2.5 it/s · 0:06 left"
    assert status.bar.value() == 5 and status.bar.maximum() == 20
    status.step(1, 20, 4.0)
    assert status.stats.text().startswith("4.0 s/it")


def test_unhandled_exception_on_a_thread_is_shown_in_a_dialog(qtbot):
    reporter = ErrorReporter()
    reporter.install()
    try:
        worker = threading.Thread(target=lambda: 1 / 0, name="failing")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: len(reporter.dialogs) == 1)
    finally:
        reporter.uninstall()
    box: QMessageBox = reporter.dialogs[0]
    assert box.textFormat().name == "PlainText"
    assert "ZeroDivisionError" in box.text()
    assert "lambda" in box.detailedText()
    box.close()
    qtbot.waitUntil(lambda: not reporter.dialogs)


def test_unhandled_exception_in_a_slot_is_shown(qtbot):
    from PySide6.QtCore import QTimer

    reporter = ErrorReporter()
    reporter.install()
    try:
        def broken() -> None:
            raise RuntimeError("a <b>broken</b> slot")

        QTimer.singleShot(0, broken)
        qtbot.waitUntil(lambda: len(reporter.dialogs) == 1)
    finally:
        reporter.uninstall()
    assert "a <b>broken</b> slot" in reporter.dialogs[0].text()
    reporter.dialogs[0].close()


def test_window_opens_without_importing_torch(tmp_path):
    script = textwrap.dedent(
        """
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        os.environ["STUDIO_HOME"] = sys.argv[1]
        from studio.app import build
        studio = build()
        studio.window.show()
        studio.app.processEvents()
        heavy = sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules)
        print("HEAVY=" + ",".join(heavy))
        print("SHOWN=" + str(studio.window.isVisible()))
        studio.window.close()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "home")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    assert "SHOWN=True" in done.stdout
    assert "HEAVY=\n" in done.stdout, done.stdout


def test_the_dangling_thread_fixture_fails_a_test_that_leaves_a_thread_running(tmp_path):
    (tmp_path / "conftest.py").write_text(
        (ROOT / "tests" / "conftest.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "test_inner.py").write_text(
        textwrap.dedent(
            """
            from PySide6.QtCore import QThread

            KEEP = []

            def test_joins_its_thread(qtbot):
                thread = QThread()
                thread.start()
                thread.quit()
                thread.wait()

            def test_leaves_its_thread_running(qtbot):
                thread = QThread()
                KEEP.append(thread)
                thread.start()
            """
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode != 0, done.stdout
    # both tests pass; the one that leaves its thread running errors in teardown
    assert "2 passed, 1 error" in done.stdout, done.stdout
    assert "left a QThread running" in done.stdout
    assert "test_leaves_its_thread_running" in done.stdout


def test_token_counter_shows_the_chunks_of_a_long_prompt(qtbot, tiny_sd_model, tmp_path):
    from studio.engine.catalogue.registry import describe
    from studio.ui.parameters import ParametersPanel

    panel = ParametersPanel(tmp_path / "models")
    qtbot.addWidget(panel)
    panel.set_models([describe(tiny_sd_model)])  # its tokenizer reads 32 tokens, 30 of them the prompt's
    qtbot.waitUntil(lambda: panel.token_label.text() != "")
    panel.prompt.setPlainText("a red circle")  # this test vocabulary has one token per letter
    assert panel.token_label.text() == "10 tokens · 1 chunk"
    panel.prompt.setPlainText("x" * 70)  # nothing is cut off: 30 + 30 + 10
    assert panel.token_label.text() == "70 tokens · 3 chunks"
    assert not panel.token_label.property("over")
    panel.prompt.setPlainText("(red:1.3) <lora:ink:0.5> BREAK [blue]")  # syntax and tags are not tokens
    assert panel.token_label.text() == "7 tokens · 2 chunks"


def test_token_counter_warns_past_the_limit_where_the_model_truncates(qtbot, tiny_sd_model, tmp_path):
    import shutil
    from dataclasses import replace

    from studio.engine.catalogue.registry import describe
    from studio.ui.parameters import ParametersPanel

    panel = ParametersPanel(tmp_path / "models")
    qtbot.addWidget(panel)
    # a family read as plain text (the tokenizer files are the tiny model's)
    flux = tmp_path / "flux"
    shutil.copytree(tiny_sd_model / "tokenizer", flux / "tokenizer")
    (flux / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    panel.set_models([replace(describe(tiny_sd_model), path=flux, family="Flux")])
    qtbot.waitUntil(lambda: panel.token_label.text() != "")
    panel.prompt.setPlainText("x" * 40)
    assert panel.token_label.text() == "40 / 30 tokens"
    assert panel.token_label.property("over") is True
    assert "ignored" in panel.token_label.toolTip()


def test_sampler_picker_offers_only_what_the_model_can_run(qtbot, tmp_path):
    from studio.engine.catalogue.registry import ModelEntry
    from studio.ui.parameters import ParametersPanel

    sd = ModelEntry(id="sd", name="SD", path=tmp_path / "sd", family="SD 1.x")
    flux = ModelEntry(id="flux", name="Flux", path=tmp_path / "flux", family="Flux")
    panel = ParametersPanel(tmp_path / "models")
    qtbot.addWidget(panel)
    panel.set_models([sd, flux], select="sd")
    panel.scheduler_box.setCurrentText("DDIM")
    assert panel.scheduler_box.isEnabled() and panel.scheduler_box.count() > 1

    panel.select_model("flux")
    box = panel.scheduler_box
    assert [box.itemText(i) for i in range(box.count())] == ["Flow matching"]
    assert not box.isEnabled() and "flow matching" in box.toolTip()
    assert panel.request().scheduler == "Flow matching"
    assert panel.request().problems() == []

    panel.select_model("sd")  # back to the full list, at the model's default sampler
    assert panel.scheduler_box.isEnabled() and panel.scheduler_box.count() > 1
    assert panel.request().scheduler == "Euler"
