"""The LoRA and embedding picker, alone and in the main window: cards from a real library of
tiny LoRA files, filters, Insert, trigger-word chips, family dimming, previews, the empty state."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QTextCursor
from PySide6.QtWidgets import QDialogButtonBox, QPlainTextEdit

from studio.config.paths import StudioPaths
from studio.engine.loras.library import AddOnLibrary
from studio.ui.addon_card import PREVIEW_SIZE, preview_pixmap
from studio.ui.addon_catalogue import AddOnCatalogue
from studio.ui.addon_picker import AddOnPicker
from studio.ui.theme import FRAME
from tests.addon_samples import install_samples, write_samples
from tests.tiny_loras import write_diffusers_lora
from tests.ui_helpers import OFFSCREEN_NOISE, link_model, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)

RED = QColor(220, 30, 40)


@pytest.fixture(scope="module")
def samples(tiny_sd_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_samples(tmp_path_factory.mktemp("addons"), tiny_sd_model)
    picture = QImage(300, 200, QImage.Format.Format_RGB32)
    picture.fill(RED)
    assert picture.save(str(folder / "loras" / "characters" / "Miku.preview.png"))
    return folder


def _catalogue(qtbot: Any, paths: StudioPaths) -> AddOnCatalogue:
    listed = AddOnCatalogue(AddOnLibrary.for_studio(paths))
    with qtbot.waitSignal(listed.changed, timeout=30_000):
        listed.refresh()
    # the short hashes follow the list; the cards are made again then
    qtbot.waitUntil(lambda: all(a.short_hash for a in listed.addons() if a.usable), timeout=30_000)
    return listed


@pytest.fixture
def picker(qtbot: Any, samples: Path, studio_paths: StudioPaths) -> Any:
    install_samples(samples, studio_paths)
    listed = _catalogue(qtbot, studio_paths)
    edit = QPlainTextEdit()
    qtbot.addWidget(edit)
    shown = AddOnPicker(listed, studio_paths, lambda: edit)
    qtbot.addWidget(shown)
    shown.resize(420, 700)
    shown.show()
    yield shown, edit
    listed.close()


def test_cards_show_the_library_with_its_facts(picker: Any) -> None:
    shown, _edit = picker
    names = [a.name for a in shown.shown()]
    assert names == ["broken", "detail-xl", "Miku", "badhands"]  # by kind, category, name
    assert shown.categories() == ["characters"]
    miku = shown.card("Miku")
    assert miku.facts_label.text().startswith("LoRA · SD 1.x · ")
    assert len(miku.addon.short_hash) == 12 and miku.facts_label.text().endswith(miku.addon.short_hash)
    assert miku.category_label.text() == "characters"
    assert [c.text() for c in miku.chips] == ["twintails", "blue hair", "miku"]
    broken = shown.card("broken")
    assert not broken.insert_button.isEnabled() and broken.problem_label.text().startswith("broken.safetensors")
    assert shown.status.text() == ""


def test_search_by_trigger_word_category_and_kind(picker: Any) -> None:
    shown, _edit = picker
    shown.search.setText("blue hair")
    assert [a.name for a in shown.shown()] == ["Miku"]
    shown.search.setText("nothing-like-this")
    assert shown.shown() == [] and shown.status.text() == "Nothing matches the search."
    shown.search.clear()
    shown.category_box.setCurrentText("characters")
    assert [a.name for a in shown.shown()] == ["Miku"]
    shown.category_box.setCurrentIndex(0)
    shown.kind_box.setCurrentIndex(2)  # embeddings
    assert [a.name for a in shown.shown()] == ["badhands"]


def test_insert_writes_the_tag_at_the_prompt_cursor_with_the_weight(qtbot: Any, picker: Any) -> None:
    shown, edit = picker
    edit.setPlainText("a girl standing")
    cursor = edit.textCursor()
    cursor.setPosition(len("a girl"))
    edit.setTextCursor(cursor)
    miku = shown.card("Miku")
    miku.weight.setValue(0.7)
    qtbot.mouseClick(miku.insert_button, Qt.MouseButton.LeftButton)
    assert edit.toPlainText() == "a girl <lora:Miku:0.7> standing"
    # a trigger word's chip adds the word, once
    edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.mouseClick(miku.chips[0], Qt.MouseButton.LeftButton)
    assert edit.toPlainText() == "a girl <lora:Miku:0.7> standing, twintails"
    qtbot.mouseClick(miku.chips[0], Qt.MouseButton.LeftButton)
    assert edit.toPlainText().count("twintails") == 1
    # double-clicking a card inserts too: an embedding by its name
    qtbot.mouseDClick(shown.card("badhands"), Qt.MouseButton.LeftButton)
    assert edit.toPlainText() == "a girl <lora:Miku:0.7> standing, twintails, badhands"


def test_a_lora_for_another_family_is_dimmed_with_both_families_named(picker: Any) -> None:
    shown, _edit = picker
    shown.set_model_family("SD 1.x")
    xl = shown.card("detail-xl")
    assert xl.dimmed and xl.graphicsEffect() is not None
    assert "SDXL" in xl.toolTip() and "SD 1.x" in xl.toolTip()
    assert not shown.card("Miku").dimmed
    shown.search.setText("detail")  # cards made again keep the family
    assert shown.card("detail-xl").dimmed
    shown.search.clear()
    shown.set_model_family("SDXL")
    assert not shown.card("detail-xl").dimmed and shown.card("Miku").dimmed


def test_previews_are_read_at_the_device_pixel_ratio_else_a_placeholder(picker: Any, samples: Path) -> None:
    shown, _edit = picker
    pixmap = preview_pixmap(samples / "loras" / "characters" / "Miku.preview.png", PREVIEW_SIZE, 2.0)
    assert pixmap.devicePixelRatio() == 2.0
    assert (pixmap.width(), pixmap.height()) == (PREVIEW_SIZE.width() * 2, PREVIEW_SIZE.height() * 2)
    assert pixmap.toImage().pixelColor(10, 10) == RED
    on_card = shown.card("Miku").preview.pixmap().toImage()
    assert on_card.pixelColor(5, 5) == RED
    placeholder = shown.card("detail-xl").preview.pixmap().toImage()
    assert placeholder.pixelColor(1, 1) == QColor(FRAME)


def test_names_are_shown_as_plain_text(qtbot: Any, tiny_sd_model: Path, studio_paths: StudioPaths) -> None:
    write_diffusers_lora(studio_paths.loras_dir / "<i>bold&amp;<i>.safetensors", tiny_sd_model)
    listed = _catalogue(qtbot, studio_paths)
    shown = AddOnPicker(listed, studio_paths, QPlainTextEdit)
    qtbot.addWidget(shown)
    card = shown.card("<i>bold&amp;<i>")
    assert card.name_label.text() == "<i>bold&amp;<i>"
    assert card.name_label.textFormat() == Qt.TextFormat.PlainText
    listed.close()


def test_empty_state_says_where_to_put_files(qtbot: Any, studio_paths: StudioPaths) -> None:
    listed = _catalogue(qtbot, studio_paths)
    shown = AddOnPicker(listed, studio_paths, QPlainTextEdit)
    qtbot.addWidget(shown)
    assert shown.shown() == []
    assert str(studio_paths.loras_dir) in shown.status.text()
    assert str(studio_paths.embeddings_dir) in shown.status.text()
    listed.close()


def test_the_window_prompt_boxes_colour_and_complete_and_the_picker_inserts(
    qtbot: Any, tmp_path: Path, samples: Path, tiny_sd_model: Path, shared_engine: Any
) -> None:
    paths = StudioPaths.under(tmp_path / "home")
    install_samples(samples, paths)
    model_id = link_model(paths, tiny_sd_model)
    window = open_window(qtbot, paths, shared_engine)
    window.parameters.select_model(model_id)
    addons = window.addons
    qtbot.waitUntil(lambda: addons.catalogue.scanned, timeout=30_000)
    assert [h.document() for h in addons.highlighters] == [window.parameters.prompt.document(),
                                                          window.parameters.negative.document()]
    prompt = window.parameters.prompt
    prompt.clear()
    window.activateWindow()
    prompt.setFocus()
    qtbot.keyClicks(prompt, "a cat <lora:mi")
    assert addons.completions[0].names() == ["Miku"]
    qtbot.keyClick(prompt, Qt.Key.Key_Return)
    assert prompt.toPlainText() == "a cat <lora:Miku:1>"
    # the menu's action (and its shortcut) opens the picker; Insert writes into the prompt box
    assert not addons.dock.isVisible() and addons.button.text() == "LoRAs"
    addons.toggle_action.trigger()
    assert addons.dock.isVisible() and addons.picker.card("Miku") is not None
    addons.picker.card("badhands").weight.setValue(1.2)
    window.parameters.negative.setFocus()  # the box last in focus gets what is inserted
    qtbot.waitUntil(window.parameters.negative.hasFocus)
    qtbot.mouseClick(addons.picker.card("badhands").insert_button, Qt.MouseButton.LeftButton)
    assert window.parameters.negative.toPlainText() == "(badhands:1.2)"
    # a folder added in Settings is listed after a rescan
    extra = tmp_path / "more-loras"
    extra.mkdir()
    shutil.copy(samples / "loras" / "detail-xl.safetensors", extra / "extra-style.safetensors")
    window.settings.lora_folders = [str(extra)]
    with qtbot.waitSignal(addons.catalogue.changed, timeout=30_000):
        window.rescan_models()
    assert "extra-style" in addons.catalogue.lora_names()
    assert addons.picker.card("extra-style") is not None


def test_trigger_words_edited_on_a_card_are_kept_and_survive_a_rescan(
    qtbot: Any, picker: Any, studio_paths: StudioPaths
) -> None:
    shown, edit = picker
    miku = shown.card("Miku")
    qtbot.mouseClick(miku.edit_words_button, Qt.MouseButton.LeftButton)
    dialog = shown.words_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.line.text() == "twintails, blue hair, miku"
    dialog.line.setText(" green dress,  idol ,, idol ")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert [c.text() for c in shown.card("Miku").chips] == ["green dress", "idol"]
    assert shown.words_dialog is None
    # kept in the file the library reads: a new library over the same folders lists them
    assert "green dress" in studio_paths.trigger_words_file.read_text(encoding="utf-8")
    with qtbot.waitSignal(shown.catalogue.changed, timeout=30_000):
        shown.catalogue.refresh()
    assert [c.text() for c in shown.card("Miku").chips] == ["green dress", "idol"]
    again = AddOnLibrary.for_studio(studio_paths).find("Miku")
    assert again is not None and again.trigger_words == ("green dress", "idol")
    edit.clear()
    qtbot.mouseClick(shown.card("Miku").chips[1], Qt.MouseButton.LeftButton)
    assert edit.toPlainText() == "idol"
    # an empty line brings back the words the file was trained with
    qtbot.mouseClick(shown.card("Miku").edit_words_button, Qt.MouseButton.LeftButton)
    shown.words_dialog.line.clear()
    shown.words_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert [c.text() for c in shown.card("Miku").chips] == ["twintails", "blue hair", "miku"]
    with qtbot.waitSignal(shown.catalogue.changed, timeout=30_000):
        shown.catalogue.refresh()
    assert [c.text() for c in shown.card("Miku").chips] == ["twintails", "blue hair", "miku"]
    # Cancel changes nothing
    qtbot.mouseClick(shown.card("Miku").edit_words_button, Qt.MouseButton.LeftButton)
    shown.words_dialog.line.setText("other")
    shown.words_dialog.reject()
    assert [c.text() for c in shown.card("Miku").chips] == ["twintails", "blue hair", "miku"]


def test_trigger_words_that_cannot_be_saved_are_said_so_and_the_card_keeps_its_words(
    picker: Any, studio_paths: StudioPaths
) -> None:
    shown, _edit = picker
    studio_paths.trigger_words_file.mkdir(parents=True)  # a folder where the file should go
    shown.save_trigger_words(shown.card("Miku").addon, ["idol"])
    assert shown.status.text().startswith("Could not save the trigger words of Miku")
    assert "Traceback" not in shown.status.text(), shown.status.text()
    assert [c.text() for c in shown.card("Miku").chips] == ["twintails", "blue hair", "miku"]
