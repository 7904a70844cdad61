"""Reusing an image whose LoRA is missing says which one and where it was expected: the Qt-free
check on a real library, `studio info`, and the window's banner after a real reuse."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from studio.config.paths import StudioPaths
from studio.engine.loras.finder import LibraryFinder
from studio.engine.loras.library import AddOnLibrary
from studio.engine.loras.missing import missing_addons, missing_in_request, recorded_addons
from studio.engine.run.request import GenerationRequest, UsedAddOn
from studio.library.store import save_image
from tests.tiny_loras import write_kohya_lora


@pytest.fixture(scope="module")
def ink_file(tmp_path_factory: pytest.TempPathFactory, tiny_sd_model: Path) -> Path:
    return write_kohya_lora(tmp_path_factory.mktemp("made") / "ink.safetensors", tiny_sd_model, seed=1)


def _addnet(path: Path) -> str:
    """The short hash Studio records for a safetensors LoRA (of its tensors, as AUTOMATIC1111)."""
    from studio.engine.loras.hashes import addnet_sha256, short_hash

    return short_hash(addnet_sha256(path))


def _finder(paths: StudioPaths) -> LibraryFinder:
    return LibraryFinder(AddOnLibrary.for_studio(paths))


def _made_with_ink(ink_file: Path, where: Path) -> GenerationRequest:
    return GenerationRequest("a red circle <lora:ink:0.7>", seed=3, steps=3, width=64, height=64,
                             addons=(UsedAddOn("lora", "ink", str(where), _addnet(ink_file), 0.7),))


def test_a_lora_that_is_there_is_not_reported(studio_paths: StudioPaths, ink_file: Path) -> None:
    studio_paths.loras_dir.mkdir(parents=True)
    shutil.copy(ink_file, studio_paths.loras_dir / "ink.safetensors")
    request = _made_with_ink(ink_file, studio_paths.loras_dir / "ink.safetensors")
    assert missing_in_request(request, _finder(studio_paths)) == []


def test_a_missing_lora_is_named_with_its_hash_and_the_folders(studio_paths: StudioPaths, ink_file: Path) -> None:
    request = _made_with_ink(ink_file, studio_paths.loras_dir / "ink.safetensors")
    (message,) = missing_in_request(request, _finder(studio_paths))
    assert "LoRA “ink”" in message and _addnet(ink_file) in message
    assert str(studio_paths.loras_dir) in message


def test_a_renamed_lora_is_found_by_its_hash(studio_paths: StudioPaths, ink_file: Path) -> None:
    studio_paths.loras_dir.mkdir(parents=True)
    shutil.copy(ink_file, studio_paths.loras_dir / "ink-v2.safetensors")
    request = _made_with_ink(ink_file, studio_paths.loras_dir / "ink.safetensors")
    (message,) = missing_in_request(request, _finder(studio_paths))
    assert str(studio_paths.loras_dir / "ink-v2.safetensors") in message and "<lora:ink-v2:…>" in message
    # a file with another hash under another name is no match
    other = UsedAddOn("lora", "ink", short_hash="0123456789ab")
    (message,) = missing_addons([other], _finder(studio_paths))
    assert "ink-v2" not in message and "missing" in message


def test_tags_without_recorded_hashes_are_checked_by_name() -> None:
    request = GenerationRequest("a cat <lora:ink:0.5> <lora:glow:1>",
                                addons=(UsedAddOn("lora", "ink", short_hash="abc", weight=0.5),))
    assert [(a.name, a.short_hash) for a in recorded_addons(request)] == [("ink", "abc"), ("glow", "")]


def test_studio_info_names_the_missing_lora(studio_paths: StudioPaths, ink_file: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main

    monkeypatch.setenv("STUDIO_HOME", str(tmp_path / "studio"))
    png = save_image(Image.new("RGB", (8, 8)), _made_with_ink(ink_file, studio_paths.loras_dir / "ink.safetensors"),
                     tmp_path / "out")
    assert main(["info", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"LoRA: ink (hash {_addnet(ink_file)}, weight 0.7)" in out
    assert "Missing: The LoRA “ink”" in out and str(studio_paths.loras_dir) in out
    assert main(["info", str(png), "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert len(item["missing"]) == 1 and "ink" in item["missing"][0]


@pytest.fixture
def window_and_panel(qtbot, studio_paths):  # type: ignore[no-untyped-def]
    from studio.app import build
    from studio.library.gallery import Gallery
    from studio.ui.gallery import install_gallery

    built = build(studio_paths, persist=False)
    qtbot.addWidget(built.window)
    gallery = Gallery.for_folder(studio_paths.gallery_dir)
    panel = install_gallery(built.window, gallery)
    yield built.window, panel
    panel.shutdown()
    built.controller.shutdown()
    built.window.close()
    gallery.close()
    gc.collect()


def _reuse(panel, png: Path) -> None:  # type: ignore[no-untyped-def]
    dialog = panel.drop_loader.load(png)  # what dropping the file on the window does
    assert dialog is not None
    dialog.apply_button.click()


def test_reusing_an_image_whose_lora_was_deleted_shows_the_banner(
    window_and_panel, studio_paths: StudioPaths, ink_file: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    window, panel = window_and_panel
    kept = studio_paths.loras_dir / "ink.safetensors"
    kept.parent.mkdir(parents=True)
    shutil.copy(ink_file, kept)
    png = save_image(Image.new("RGB", (8, 8)), _made_with_ink(ink_file, kept), tmp_path / "out")
    _reuse(panel, png)
    assert window.parameters.request().prompt == "a red circle <lora:ink:0.7>"
    assert window.banner.isHidden()  # the file is there: nothing to say
    kept.unlink()
    window.parameters.prompt.setPlainText("something else")
    _reuse(panel, png)
    assert not window.banner.isHidden()
    said = window.banner.label.text()
    assert "LoRA “ink”" in said and _addnet(ink_file) in said and str(studio_paths.loras_dir) in said


def test_reusing_an_image_whose_lora_was_renamed_names_the_new_file(
    window_and_panel, studio_paths: StudioPaths, ink_file: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    window, panel = window_and_panel
    renamed = studio_paths.loras_dir / "inked.safetensors"
    renamed.parent.mkdir(parents=True)
    shutil.copy(ink_file, renamed)
    png = save_image(Image.new("RGB", (8, 8)), _made_with_ink(ink_file, studio_paths.loras_dir / "ink.safetensors"),
                     tmp_path / "out")
    _reuse(panel, png)
    assert not window.banner.isHidden() and str(renamed) in window.banner.label.text()
