"""Settings…: the LoRAs and embeddings page lists the extra folders, adds only real folders,
removes them, and OK puts them in the settings so that the picker lists their files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from studio.config.paths import StudioPaths
from studio.config.settings import EngineSettings, load_settings
from studio.ui.settings_dialog import SettingsDialog
from tests.addon_samples import install_samples, write_samples
from tests.ui_helpers import OFFSCREEN_NOISE, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)


def test_the_folders_page_adds_real_folders_only_and_removes(qtbot: Any, tmp_path: Path) -> None:
    first, second = tmp_path / "styles", tmp_path / "faces"
    first.mkdir()
    second.mkdir()
    dialog = SettingsDialog(EngineSettings(), lora_folders=[str(first)], embedding_folders=[])
    qtbot.addWidget(dialog)
    assert dialog.pages.tabText(1) == "LoRAs and embeddings"
    page = dialog.addon_page
    assert dialog.addon_folders() == ([str(first)], [])
    missing = tmp_path / "not-there"
    assert not page.loras.add_folder(str(missing))
    assert str(missing) in page.loras.message.text() and "not added" in page.loras.message.text()
    assert not page.loras.add_folder(str(first))  # listed already
    assert "already" in page.loras.message.text()
    assert page.loras.add_folder(str(second)) and page.loras.message.text() == ""
    assert page.embeddings.add_folder(str(first))
    assert dialog.addon_folders() == ([str(first), str(second)], [str(first)])
    page.loras.list.setCurrentRow(0)
    page.loras.remove_button.click()
    assert dialog.addon_folders() == ([str(second)], [str(first)])
    page.embeddings.list.setCurrentRow(0)
    page.embeddings.remove_button.click()
    assert dialog.addon_folders() == ([str(second)], [])
    assert not page.embeddings.remove_button.isEnabled()


def test_ok_keeps_the_folders_and_the_picker_lists_their_files(
    qtbot: Any, tmp_path: Path, tiny_sd_model: Path, shared_engine: Any
) -> None:
    samples = write_samples(tmp_path / "samples", tiny_sd_model)
    paths = StudioPaths.under(tmp_path / "home")
    install_samples(samples, paths)
    window = open_window(qtbot, paths, shared_engine)
    addons = window.addons
    qtbot.waitUntil(lambda: addons.catalogue.scanned, timeout=30_000)
    assert addons.picker.card("extra-style") is None
    extra = tmp_path / "more-loras"
    extra.mkdir()
    shutil.copy(samples / "loras" / "detail-xl.safetensors", extra / "extra-style.safetensors")
    settings_action = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Settings…")
    settings_action.trigger()
    dialog = window.settings_dialog
    assert dialog.isVisible() and dialog.addon_folders() == ([], [])
    assert dialog.addon_page.loras.add_folder(str(extra))
    with qtbot.waitSignal(addons.catalogue.changed, timeout=30_000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert window.settings.lora_folders == [str(extra)]
    assert load_settings(paths.settings_file).settings.lora_folders == [str(extra)]
    assert "extra-style" in addons.catalogue.lora_names()
    assert addons.picker.card("extra-style") is not None
    # opened again, the page shows the folder; removing it and OK lists the file no more
    settings_action.trigger()
    dialog = window.settings_dialog
    assert dialog.addon_folders() == ([str(extra)], [])
    dialog.addon_page.loras.list.setCurrentRow(0)
    dialog.addon_page.loras.remove_button.click()
    with qtbot.waitSignal(addons.catalogue.changed, timeout=30_000):
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert window.settings.lora_folders == []
    assert addons.picker.card("extra-style") is None
