"""The viewer on a real gallery: metadata beside the image, keys, actions, and reuse with a diff."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QLabel

from studio.library.film import FilmError, film_chunk
from studio.library.gallery import Gallery
from studio.library.metadata import read_metadata, read_texts
from studio.ui.gallery import GalleryPanel
from studio.ui.gallery.film import ViewerTimeline
from studio.ui.gallery.reuse import ReuseMode
from studio.ui.parameters import ParametersPanel
from tests.gallery_ui_helpers import PROMPTS, fill_gallery, request_for, settle, use_trash_in

INTEROP = Path("/work/shared/interop")


@pytest.fixture
def gallery(tmp_path: Path):  # type: ignore[no-untyped-def]
    with Gallery.for_folder(tmp_path / "gallery") as opened:
        yield opened


@pytest.fixture
def controls(qtbot, tmp_path: Path) -> ParametersPanel:
    panel = ParametersPanel(tmp_path / "models")
    qtbot.addWidget(panel)
    panel.prompt.setPlainText("my work in progress")
    panel.negative.setPlainText("")
    panel.steps.setValue(30)
    panel.random_button.setChecked(True)
    return panel


@pytest.fixture
def panel(qtbot, gallery: Gallery, controls: ParametersPanel):  # type: ignore[no-untyped-def]
    fill_gallery(gallery)
    widget = GalleryPanel(gallery, controls)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    yield widget
    widget.shutdown()
    widget.close()
    gc.collect()  # collect Qt wrappers here, on the GUI thread, not later on a pool thread


def test_opening_shows_the_image_large_with_its_metadata(qtbot, panel: GalleryPanel) -> None:
    row = panel.model.row_at(1)
    panel.open_position(1)
    viewer = panel.viewer
    assert panel.viewing()
    assert viewer.prompt_label.text() == PROMPTS[3]
    assert viewer.fields["Seed"].text() == "1003"
    assert viewer.fields["Steps"].text() == "15"
    assert viewer.fields["Size"].text() == "64x64"
    assert viewer.fields["Made with"].text() == "Studio"
    assert viewer.prompt_label.textFormat() == Qt.TextFormat.PlainText
    assert viewer.position_label.text() == "2 / 5"
    # the full image replaces the thumbnail once decoded off the GUI thread
    qtbot.waitUntil(
        lambda: viewer.image_view.pixmap() is not None
        and viewer.image_view.pixmap().size().width() == 64,
        timeout=5000,
    )
    assert viewer.title.text() == row.path.name


def test_arrow_keys_step_and_escape_returns_to_the_grid(qtbot, panel: GalleryPanel) -> None:
    panel.open_position(0)
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Right)
    assert panel.viewer.path == panel.model.row_at(1).path
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Down)
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Left)
    assert panel.viewer.path == panel.model.row_at(1).path
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Left)
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Left)  # already the first: stays
    assert panel.viewer.path == panel.model.row_at(0).path
    assert not panel.viewer.previous_button.isEnabled()
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Escape)
    assert not panel.viewing()
    assert panel.view.currentIndex().row() == 0
    qtbot.keyClick(panel.view, Qt.Key.Key_Return)  # Enter on the grid opens the viewer
    assert panel.viewing() and panel.viewer.path == panel.model.row_at(0).path
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Return)
    assert not panel.viewing()


def test_f_toggles_the_favorite_in_the_file(qtbot, panel: GalleryPanel) -> None:
    panel.open_position(2)
    path = panel.viewer.path
    qtbot.keyClick(panel.viewer, Qt.Key.Key_F)
    settle(qtbot, panel)
    assert read_metadata(path).favorite
    assert panel.viewer.favorite_button.isChecked()
    assert panel.gallery.index.get(path).favorite
    panel.viewer.favorite_button.click()
    settle(qtbot, panel)
    assert not read_metadata(path).favorite
    assert not panel.viewer.favorite_button.isChecked()


def test_delete_sends_to_the_trash_and_shows_the_next(
    qtbot, panel: GalleryPanel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trash = use_trash_in(tmp_path / "home", monkeypatch)
    panel.open_position(1)
    victim = panel.viewer.path
    following = panel.model.row_at(2).path
    content = victim.read_bytes()
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Delete)
    settle(qtbot, panel)
    assert not victim.exists()
    assert (trash / victim.name).read_bytes() == content
    assert panel.gallery.index.get(victim) is None
    assert panel.gallery.index.count() == 4
    assert panel.viewer.path == following
    assert panel.grid.count_label.text() == "4 images"


def test_delete_in_the_viewer_of_the_last_image_returns_to_an_empty_grid(
    qtbot, gallery: Gallery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_trash_in(tmp_path / "home", monkeypatch)
    fill_gallery(gallery, 1)
    widget = GalleryPanel(gallery)
    qtbot.addWidget(widget)
    widget.open_position(0)
    widget.viewer.delete_button.click()
    settle(qtbot, widget)
    assert not widget.viewing()
    assert widget.model.rowCount() == 0
    assert "No images yet" in widget.grid.empty_label.text()
    widget.shutdown()


def test_copy_parameters_puts_the_infotext_on_the_clipboard(panel: GalleryPanel) -> None:
    panel.open_position(0)
    panel.viewer.copy_button.click()
    text = QGuiApplication.clipboard().text()
    assert text == read_texts(panel.viewer.path).texts["parameters"]
    assert text.startswith(PROMPTS[4])
    assert "Seed: 1004" in text


class FolderOpener(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def test_open_folder_asks_the_desktop_for_the_containing_folder(panel: GalleryPanel) -> None:
    opener = FolderOpener()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        panel.open_position(0)
        panel.viewer.folder_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(url.toLocalFile()) for url in opener.urls] == [panel.viewer.path.parent]


def test_reuse_all_shows_the_diff_then_applies(
    qtbot, panel: GalleryPanel, controls: ParametersPanel
) -> None:
    panel.open_position(0)  # the newest: request_for(4)
    source = request_for(4)
    dialog = panel.reuse(ReuseMode.ALL)
    assert dialog is not None and dialog.isVisible()
    rows = {name: (before, after) for name, before, after in dialog.rows()}
    assert rows["Prompt"] == ("my work in progress", source.prompt)
    assert rows["Negative prompt"] == ("(empty)", "blurry")
    assert rows["Seed"] == ("random", "1004")
    assert rows["Steps"] == ("30", "16")
    assert rows["Sampler"][1] == "Euler a"
    assert "Images" not in rows  # the batch size is not the image's to change
    assert controls.request().prompt == "my work in progress"  # nothing applied yet
    dialog.apply_button.click()
    after = controls.request()
    assert (after.prompt, after.negative_prompt, after.seed, after.steps) == (
        source.prompt, "blurry", 1004, 16,
    )  # fmt: skip
    assert after.scheduler == "Euler a"
    assert panel.reuse_dialog is None or not panel.reuse_dialog.isVisible()


def test_cancelled_reuse_changes_nothing(panel: GalleryPanel, controls: ParametersPanel) -> None:
    before = controls.request()
    panel.open_position(0)
    dialog = panel.reuse(ReuseMode.ALL)
    assert dialog is not None
    dialog.reject()
    assert controls.request() == before


def test_reuse_prompt_only_and_seed_only(panel: GalleryPanel, controls: ParametersPanel) -> None:
    panel.open_position(2)  # request_for(2)
    dialog = panel.reuse(ReuseMode.PROMPT)
    assert dialog is not None
    assert [name for name, _, _ in dialog.rows()] == ["Prompt", "Negative prompt"]
    dialog.accept()
    assert controls.request().prompt == PROMPTS[2]
    assert controls.request().seed is None and controls.request().steps == 30

    panel.viewer.reuse_seed_button.click()
    dialog = panel.reuse_dialog
    assert dialog is not None
    assert dialog.rows() == [("Seed", "random", "1002")]
    dialog.accept()
    assert controls.request().seed == 1002
    assert controls.request().steps == 30


def test_reuse_when_nothing_changes_says_so(panel: GalleryPanel, controls: ParametersPanel) -> None:
    panel.open_position(0)
    first = panel.reuse(ReuseMode.ALL)
    assert first is not None
    first.accept()
    again = panel.reuse(ReuseMode.ALL)
    assert again is not None
    assert again.rows() == []
    assert not again.apply_button.isEnabled()
    again.reject()


def test_images_from_other_tools_show_what_could_be_read(
    qtbot, panel: GalleryPanel, controls: ParametersPanel
) -> None:
    others = panel.gallery.folder / "imported"
    others.mkdir()
    for name in ("a1111_parameters.png", "comfyui_prompt_workflow.png", "invokeai_metadata.png"):
        shutil.copy(INTEROP / name, others / name)
    with qtbot.waitSignal(panel.grid.rows_shown, timeout=5000):
        panel.reconcile()
    comfy = panel.model.position(others / "comfyui_prompt_workflow.png")
    assert comfy >= 0
    panel.open_position(comfy)
    viewer = panel.viewer
    assert viewer.fields["Made with"].text() == "ComfyUI"
    assert viewer.prompt_label.text().startswith("photograph of victorian woman with wings")
    assert viewer.notes_label.isVisibleTo(viewer)
    assert "image size" in viewer.notes_label.text()

    dialog = panel.reuse(ReuseMode.ALL)
    assert dialog is not None
    names = [name for name, _, _ in dialog.rows()]
    assert "Seed" not in names  # 280823642470253 is beyond Studio's seeds: kept, and said so
    dialog.accept()
    assert controls.request().prompt.startswith("photograph of victorian woman with wings")
    assert controls.request().scheduler == "DPM++ 2M"

    a1111 = panel.model.position(others / "a1111_parameters.png")
    panel.open_position(a1111)
    assert viewer.fields["Made with"].text() == "AUTOMATIC1111"
    assert viewer.fields["Seed"].text() == "235284042"
    qtbot.keyClick(viewer, Qt.Key.Key_F)  # favorites work on other tools' PNGs too
    settle(qtbot, panel)
    assert read_metadata(others / "a1111_parameters.png").favorite
    assert read_metadata(others / "a1111_parameters.png").prompt == "photo of a duck"


def test_the_timeline_slot_holds_what_the_provider_makes(panel: GalleryPanel) -> None:
    made: list[Path] = []

    def film(path: Path) -> QLabel:
        made.append(path)
        return QLabel(f"film of {path.name}")

    panel.timeline_provider = film
    panel.open_position(0)
    assert made == [panel.viewer.path]
    assert panel.viewer.timeline_slot.isVisibleTo(panel.viewer)
    labels = panel.viewer.timeline_slot.findChildren(QLabel)
    assert [label.text() for label in labels] == [f"film of {panel.viewer.path.name}"]

    def damaged(path: Path) -> QLabel:
        raise FilmError("The film in this image is damaged (frames are missing).")

    panel.timeline_provider = damaged
    panel.open_position(1)
    assert not panel.viewer.timeline_slot.isVisibleTo(panel.viewer)
    assert panel.viewer.status.text() == (
        "The denoising film could not be shown: The film in this image is damaged (frames are missing)."
    )

    def broken(path: Path) -> QLabel:
        raise TypeError("an internal detail")

    panel.timeline_provider = broken
    panel.open_position(2)
    assert not panel.viewer.timeline_slot.isVisibleTo(panel.viewer)
    status = panel.viewer.status.text()
    assert status.startswith("The denoising film could not be shown")
    assert "TypeError" not in status and "internal detail" not in status


def test_clicking_a_tiles_star_toggles_the_favorite(qtbot, panel: GalleryPanel) -> None:
    qtbot.waitExposed(panel)
    row = panel.model.row_at(0)
    cell = panel.view.visualRect(panel.model.index(0))
    star = panel.grid.delegate.star_rect(cell).center()
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=star)
    settle(qtbot, panel)
    assert read_metadata(row.path).favorite
    assert panel.model.row_at(0).favorite
    assert not panel.viewing()  # the star does not open the viewer


def test_a_file_damaged_after_indexing_opens_with_a_reason(qtbot, panel: GalleryPanel) -> None:
    row = panel.model.row_at(0)
    row.path.write_bytes(row.path.read_bytes()[:60])  # truncated inside the header chunks
    with qtbot.waitSignal(panel.loader.image_failed, timeout=5000):
        panel.open_position(0)
        assert panel.viewing()
        assert "truncated" in panel.viewer.status.text()  # what reading the metadata said
        assert not panel.viewer.reuse_all_button.isEnabled()
    assert panel.viewer.status.isVisibleTo(panel.viewer)
    assert f"{row.path.name} could not be read" in panel.viewer.status.text()
    qtbot.keyClick(panel.viewer, Qt.Key.Key_Right)  # the viewer keeps working
    assert panel.viewer.path == panel.model.row_at(1).path


def film_frames(steps: int) -> list[np.ndarray]:
    """Frames that go from dark to the final colour, one per step."""
    return [np.full((16, 16, 3), 40 + 40 * i, dtype=np.uint8) for i in range(steps)]


def test_the_denoising_film_scrubs_on_the_viewers_canvas(qtbot, gallery: Gallery) -> None:
    image = Image.new("RGB", (64, 64), (200, 200, 200))
    row = gallery.save(image, request_for(0), extra_chunks=film_chunk(film_frames(5)))
    widget = GalleryPanel(gallery)
    qtbot.addWidget(widget)
    widget.open_position(widget.model.position(row.path))
    viewer = widget.viewer
    assert viewer.timeline_slot.isVisibleTo(viewer)
    timeline = viewer.timeline_slot.findChild(ViewerTimeline)
    assert timeline is not None and timeline.has_film and timeline.noise is None
    assert timeline.film.slider.maximum() == 5 and timeline.film.slider.value() == 5
    timeline.film.slider.setValue(2)
    shown = viewer.image_view.pixmap().toImage()
    assert shown.size().width() == 16  # the stored frame, drawn at the image's size
    assert QColor(shown.pixel(8, 8)).red() == pytest.approx(80, abs=6)
    timeline.film.slider.setValue(5)  # the last step is the image itself
    qtbot.waitUntil(lambda: viewer.image_view.pixmap().width() == 64, timeout=5000)
    widget.shutdown()


def test_the_noise_slider_asks_and_shows_the_answer(qtbot, panel: GalleryPanel) -> None:
    panel.noise_enabled = True
    panel.open_position(0)
    timeline = panel.viewer.timeline_slot.findChild(ViewerTimeline)
    assert timeline is not None and timeline.noise is not None and not timeline.has_film
    with qtbot.waitSignal(panel.noise_requested, timeout=2000) as asked:
        timeline.noise.slider.setValue(40)
    assert asked.args == [str(panel.viewer.path), 0.4]
    noised = np.zeros((8, 8, 3), dtype=np.uint8)
    noised[..., 1] = 255
    panel.show_noised(str(panel.viewer.path), 0.1, noised)  # stale: the slider is at 0.4
    assert panel.viewer.image_view.pixmap().width() != 8
    panel.show_noised(str(panel.viewer.path), 0.4, noised)
    shown = panel.viewer.image_view.pixmap().toImage()
    assert shown.width() == 8 and QColor(shown.pixel(4, 4)).green() == 255
