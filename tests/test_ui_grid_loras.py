"""The grid window offers the library's LoRAs as weight axes (the real window, a real library)."""

from __future__ import annotations

import gc
from pathlib import Path

from studio.config.paths import StudioPaths
from tests.tiny_loras import write_kohya_lora


def test_the_grid_dialog_offers_each_library_lora_as_an_axis(
    qtbot, studio_paths: StudioPaths, tiny_sd_model: Path  # type: ignore[no-untyped-def]
) -> None:
    from studio.app import build

    write_kohya_lora(studio_paths.loras_dir / "ink.safetensors", tiny_sd_model, seed=1)
    write_kohya_lora(studio_paths.loras_dir / "styles" / "glow.safetensors", tiny_sd_model, seed=2)
    (studio_paths.loras_dir / "broken.safetensors").write_bytes(b"not a LoRA")
    built = build(studio_paths, persist=False)
    window = built.window
    qtbot.addWidget(window)
    dialog = window.open_grid_dialog()
    qtbot.addWidget(dialog)
    picker = dialog.lora_picker
    qtbot.waitUntil(picker.isEnabled, timeout=30_000)
    assert picker.names() == ["glow", "ink"]  # the damaged file is not offered
    picker.activated.emit(picker.findText("ink"))  # as a click on the entry does
    assert [e.text() for e in dialog.axes] == ["guidance=1,3,5", "seed=1,2", "lora:ink=0,0.5,1"]
    picker.activated.emit(picker.findText("glow"))
    assert dialog.axes[2].text() == "lora:glow=0,0.5,1"  # no empty axis left: the last one changes
    assert picker.currentIndex() == 0
    dialog.close()
    built.controller.shutdown()
    window.close()
    gc.collect()


def test_an_empty_library_says_so(qtbot, studio_paths: StudioPaths) -> None:  # type: ignore[no-untyped-def]
    from studio.app import build

    built = build(studio_paths, persist=False)
    qtbot.addWidget(built.window)
    dialog = built.window.open_grid_dialog()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.lora_picker.currentText() == "No LoRAs in the library", timeout=30_000)
    assert not dialog.lora_picker.isEnabled() and dialog.lora_picker.names() == []
    dialog.close()
    built.controller.shutdown()
    built.window.close()
    gc.collect()
