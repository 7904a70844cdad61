"""Prompt history in the real window: Up/Down walks recent prompts, Ctrl+R searches all of them."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor

from studio.library.gallery import Gallery
from studio.ui.gallery import install_gallery
from tests.gallery_ui_helpers import PROMPTS, fill_gallery, request_for


@pytest.fixture
def studio(qtbot, studio_paths):  # type: ignore[no-untyped-def]
    from studio.app import build

    built = build(studio_paths, persist=False)
    window = built.window
    qtbot.addWidget(window)
    gallery = Gallery.for_folder(studio_paths.gallery_dir)
    paths = fill_gallery(gallery, 6)
    panel = install_gallery(window, gallery)
    yield window, gallery, paths
    if window.prompt_history.popup is not None:
        window.prompt_history.popup.wait()
    panel.shutdown()
    built.controller.shutdown()
    window.close()
    gallery.close()
    gc.collect()


def _newest_first(count: int) -> list[str]:
    return list(dict.fromkeys(PROMPTS[i % len(PROMPTS)] for i in reversed(range(count))))


def test_index_lists_each_prompt_once_newest_first(studio) -> None:  # type: ignore[no-untyped-def]
    _, gallery, paths = studio
    found = gallery.index.prompts()
    assert [p for p, _ in found] == _newest_first(6)
    assert found[0][1] == paths[-1]
    word = PROMPTS[0].split()[-1]
    assert all(word in p for p, _ in gallery.index.prompts(word[:3]))


def test_up_and_down_walk_recent_prompts_only_from_the_edge_lines(qtbot, studio) -> None:  # type: ignore[no-untyped-def]
    window, _, _ = studio
    prompt = window.parameters.prompt
    prompt.setPlainText("first line\nsecond line")
    prompt.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClick(prompt, Qt.Key.Key_Up)  # caret on the last line: Up only moves it
    assert prompt.toPlainText() == "first line\nsecond line"
    assert prompt.textCursor().blockNumber() == 0
    recent = _newest_first(6)
    qtbot.keyClick(prompt, Qt.Key.Key_Up)
    assert prompt.toPlainText() == recent[0]
    qtbot.keyClick(prompt, Qt.Key.Key_Up)
    assert prompt.toPlainText() == recent[1]
    qtbot.keyClick(prompt, Qt.Key.Key_Down)
    assert prompt.toPlainText() == recent[0]
    qtbot.keyClick(prompt, Qt.Key.Key_Down)
    assert prompt.toPlainText() == "first line\nsecond line"  # what was typed comes back


def test_popup_searches_and_brings_back_prompt_and_settings(qtbot, studio) -> None:  # type: ignore[no-untyped-def]
    window, _, _ = studio
    window.parameters.prompt.setPlainText("something else")
    popup = window.prompt_history.open_popup()
    qtbot.waitUntil(lambda: popup.results.count() == len(_newest_first(6)))
    target = request_for(1)
    qtbot.keyClicks(popup.query, target.prompt.split()[-1])
    qtbot.waitUntil(lambda: popup.results.count() >= 1 and all(
        target.prompt.split()[-1] in popup.results.item(i).text() for i in range(popup.results.count())))
    row = next(i for i in range(popup.results.count()) if popup.results.item(i).text() == target.prompt)
    popup.results.setCurrentRow(row)
    popup.with_settings.setChecked(True)
    with qtbot.waitSignal(popup.chosen):
        qtbot.keyClick(popup.query, Qt.Key.Key_Return)
    assert window.parameters.prompt.toPlainText() == target.prompt
    newest = max(i for i in range(6) if request_for(i).prompt == target.prompt)
    assert window.parameters.steps.value() == request_for(newest).steps
    assert window.parameters.seed_box.seed() == request_for(newest).seed


def test_popup_says_when_nothing_matches(qtbot, studio) -> None:  # type: ignore[no-untyped-def]
    window, _, _ = studio
    popup = window.prompt_history.open_popup()
    qtbot.keyClicks(popup.query, "zebra")
    qtbot.waitUntil(lambda: popup.status.text() == "No prompt holds these words.")
    assert popup.results.count() == 0


def test_ctrl_r_opens_the_search_and_no_other_shortcut_takes_it(qtbot, studio) -> None:  # type: ignore[no-untyped-def]
    window, _, _ = studio
    window.show()
    qtbot.waitExposed(window)
    with qtbot.waitActive(window):
        window.activateWindow()
    window.parameters.prompt.setFocus()
    random_before = window.parameters.random_button.isChecked()
    qtbot.keyClick(window.parameters.prompt, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.prompt_history.popup is not None and window.prompt_history.popup.isVisible())
    assert window.parameters.random_button.isChecked() == random_before
    shortcuts = [s.toString() for action in window.actions() for s in action.shortcuts()]
    assert "Ctrl+R" not in shortcuts
