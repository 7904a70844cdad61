"""The before/after slider: left of the handle is picture A, right of it picture B."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from studio.ui.compare_slider import CompareDialog, CompareSlider


def _filled(r: int, g: int, b: int) -> QImage:
    image = QImage(64, 64, QImage.Format.Format_RGB888)
    image.fill((r << 16) | (g << 8) | b)
    return image


def test_pixels_left_of_the_handle_are_from_a_and_right_from_b(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    slider = CompareSlider(_filled(200, 0, 0), _filled(0, 0, 200))
    qtbot.addWidget(slider)
    slider.resize(200, 200)
    slider.show()
    for fraction in (0.3, 0.75):
        with qtbot.waitSignal(slider.position_changed):
            qtbot.mouseClick(slider, Qt.MouseButton.LeftButton, pos=QPoint(int(200 * fraction), 100))
        shot = slider.grab().toImage()
        split = round(slider.handle_x())
        assert abs(split - 200 * fraction) <= 1
        for x in (2, split - 6):
            assert shot.pixelColor(x, 30).getRgb()[:3] == (200, 0, 0)
        for x in (split + 6, 197):
            assert shot.pixelColor(x, 30).getRgb()[:3] == (0, 0, 200)
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Left)
    assert abs(slider.position() - 0.70) < 1e-9
    slider.grab().save(str(tmp_path / "slider.png"))


def test_dialog_shows_the_names_as_plain_text(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = CompareDialog(_filled(1, 2, 3), _filled(4, 5, 6), "<b>a.png</b>", "b.png")
    qtbot.addWidget(dialog)
    from PySide6.QtWidgets import QLabel

    label = dialog.findChild(QLabel)
    assert label is not None and label.textFormat() == Qt.TextFormat.PlainText and "<b>a.png</b>" in label.text()
