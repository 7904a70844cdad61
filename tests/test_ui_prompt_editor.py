"""The prompt boxes: colours for the prompt syntax, LoRA and embedding names completed as one
types, tags written at the cursor. Real widgets, real tiny LoRA files in a real library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from studio.config.paths import StudioPaths
from studio.engine.loras.library import AddOnLibrary
from studio.ui.addon_catalogue import AddOnCatalogue
from studio.ui.prompt_completion import NameCompletion
from studio.ui.prompt_highlighter import PromptHighlighter
from studio.ui.prompt_tags import add_word, insert_lora
from tests.addon_samples import install_samples, write_samples


@pytest.fixture(scope="module")
def samples(tiny_sd_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_samples(tmp_path_factory.mktemp("addons"), tiny_sd_model)


@pytest.fixture
def catalogue(qtbot: Any, samples: Path, studio_paths: StudioPaths) -> Any:
    install_samples(samples, studio_paths)
    listed = AddOnCatalogue(AddOnLibrary.for_studio(studio_paths))
    with qtbot.waitSignal(listed.changed, timeout=30_000):
        listed.refresh()
    yield listed
    listed.close()


def _edit(qtbot: Any, text: str = "") -> QPlainTextEdit:
    edit = QPlainTextEdit()
    qtbot.addWidget(edit)
    edit.setPlainText(text)
    return edit


def _formats(edit: QPlainTextEdit) -> dict[str, QTextCharFormat]:
    """The highlighter's format over each stretch of the first line, by the text it covers."""
    block = edit.document().firstBlock()
    text = block.text()
    return {text[r.start:r.start + r.length]: QTextCharFormat(r.format) for r in block.layout().formats()}


def test_catalogue_lists_the_sample_files(catalogue: AddOnCatalogue) -> None:
    assert catalogue.lora_names() == ["detail-xl", "Miku"]  # the broken file is not offered
    assert catalogue.embedding_names() == ["badhands"]
    assert catalogue.has_lora("miku") and catalogue.has_lora("characters/Miku")
    assert not catalogue.has_lora("nothere")


def test_highlighter_colours_weights_edits_tags_break_and_embeddings(qtbot: Any, catalogue: AddOnCatalogue) -> None:
    edit = _edit(qtbot)
    PromptHighlighter(edit.document(), catalogue)
    edit.setPlainText("(red cat:1.3), [dog:fox:0.5] BREAK badhands <lora:Miku:0.8> <lora:nothere:1> break")
    formats = _formats(edit)
    assert formats["1.3"].foreground().color() == PromptHighlighter.WEIGHT.foreground().color()
    assert formats["("].fontWeight() == PromptHighlighter.BRACKET.fontWeight()
    assert formats["0.5"].foreground().color() == PromptHighlighter.WEIGHT.foreground().color()
    assert formats["BREAK"].foreground().color() == PromptHighlighter.BREAK.foreground().color()
    assert "break" not in formats  # only the capital word splits the prompt
    assert formats["badhands"].fontItalic()
    assert formats["<lora:Miku:0.8>"].foreground().color() == PromptHighlighter.LORA.foreground().color()
    missing = formats["<lora:nothere:1>"]
    assert missing.underlineStyle() == QTextCharFormat.UnderlineStyle.WaveUnderline
    assert "red cat" not in formats  # words are left as they are


def test_highlighter_leaves_a_colon_outside_brackets_alone(qtbot: Any, catalogue: AddOnCatalogue) -> None:
    edit = _edit(qtbot)
    PromptHighlighter(edit.document(), catalogue)
    edit.setPlainText("ratio 16:9 photo")
    assert _formats(edit) == {}


def test_insert_lora_writes_the_tag_at_the_cursor(qtbot: Any) -> None:
    edit = _edit(qtbot, "a cat sitting")
    cursor = edit.textCursor()
    cursor.setPosition(len("a cat"))
    edit.setTextCursor(cursor)
    assert insert_lora(edit, "Miku", 0.75) is False
    assert edit.toPlainText() == "a cat <lora:Miku:0.75> sitting"
    assert edit.textCursor().position() == len("a cat <lora:Miku:0.75>")
    # the same LoRA again: its weight changes, no second tag
    assert insert_lora(edit, "miku", 1.0) is True
    assert edit.toPlainText() == "a cat <lora:Miku:1> sitting"


def test_add_word_separates_with_a_comma_and_skips_a_word_already_there(qtbot: Any) -> None:
    edit = _edit(qtbot, "a cat")
    edit.moveCursor(QTextCursor.MoveOperation.End)
    assert add_word(edit, "twintails")
    assert edit.toPlainText() == "a cat, twintails"
    assert not add_word(edit, "Twintails")
    assert edit.toPlainText() == "a cat, twintails"


def test_typing_lora_tag_offers_the_library_names(qtbot: Any, catalogue: AddOnCatalogue) -> None:
    edit = _edit(qtbot)
    completion = NameCompletion(edit, catalogue)
    edit.show()
    edit.setFocus()
    qtbot.keyClicks(edit, "a cat <lora:mi")
    assert completion.visible()
    assert completion.names() == ["Miku"]
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert edit.toPlainText() == "a cat <lora:Miku:1>"
    assert not completion.visible()
    qtbot.keyClicks(edit, "0.6")  # the weight was selected: typing replaces it
    assert edit.toPlainText() == "a cat <lora:Miku:0.6>"


def test_embedding_names_complete_as_words(qtbot: Any, catalogue: AddOnCatalogue) -> None:
    edit = _edit(qtbot)
    completion = NameCompletion(edit, catalogue)
    edit.show()
    edit.setFocus()
    qtbot.keyClicks(edit, "photo, badh")
    assert completion.names() == ["badhands"]
    qtbot.keyClick(edit, Qt.Key.Key_Tab)
    assert edit.toPlainText() == "photo, badhands"
    qtbot.keyClicks(edit, ", cat")
    assert not completion.visible()  # no embedding begins with "cat"
