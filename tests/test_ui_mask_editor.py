"""The mask editor with real widgets and real mouse and key events: what is painted on screen
lands on the right pixels of the exported mask, and every edit can be undone exactly."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.config.atomic import TEMP_PREFIX
from studio.ui.mask_canvas import MaskCanvas
from studio.ui.mask_document import MaskTool
from studio.ui.mask_editor import MaskEditor, mask_path_beside, save_mask_png
from studio.ui.mask_history import MaskHistory

LEFT = Qt.MouseButton.LeftButton
MIDDLE = Qt.MouseButton.MiddleButton
NO_MODIFIER = Qt.KeyboardModifier.NoModifier


def picture(width: int = 400, height: int = 300) -> Image.Image:
    """A picture with structure (a gradient and a block), so a wrong mapping would show."""
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :].repeat(height, 0)
    rgb = np.stack([x, np.full_like(x, 90), 255 - x], axis=-1)
    rgb[height // 3 : height // 2, width // 4 : width // 2] = (240, 220, 40)
    return Image.fromarray(rgb, "RGB")


@pytest.fixture
def editor(qtbot) -> MaskEditor:  # type: ignore[no-untyped-def]
    widget = MaskEditor()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    with qtbot.waitExposed(widget):
        widget.show()
    widget.set_image(picture())
    return widget


def at(canvas: MaskCanvas, x: float, y: float) -> QPoint:
    """The screen pixel that shows the centre of picture pixel (x, y)."""
    view = canvas.image_to_view(QPointF(x + 0.5, y + 0.5))
    return QPoint(int(view.x()), int(view.y()))


def stroke(canvas: MaskCanvas, points: list[tuple[float, float]], steps: int = 12) -> None:
    """Press, drag through `points` with `steps` moves between each pair, release."""
    QTest.mousePress(canvas, LEFT, NO_MODIFIER, at(canvas, *points[0]))
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        for i in range(1, steps + 1):
            t = i / steps
            QTest.mouseMove(canvas, at(canvas, x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
    QTest.mouseRelease(canvas, LEFT, NO_MODIFIER, at(canvas, *points[-1]))


def mask_array(editor: MaskEditor, *, raw: bool = True) -> np.ndarray:
    image = editor.raw_mask_image() if raw else editor.mask_image()
    assert image.mode == "L"
    return np.asarray(image)


def column_width(mask: np.ndarray, x: int) -> int:
    return int(np.count_nonzero(mask[:, x] > 127))


def test_a_stroke_marks_the_pixels_along_it_and_nothing_else(editor: MaskEditor) -> None:
    editor.set_brush_size(20)
    assert editor.is_empty()
    stroke(editor.canvas, [(60, 150), (340, 150)])
    mask = mask_array(editor)
    assert mask.shape == (300, 400)
    assert not editor.is_empty()
    assert (mask[150, 60:341] == 255).all(), "every pixel along the stroke is marked"
    assert (mask[141:160, 100:300] == 255).all(), "the stroke is the brush's width"
    assert (mask[:136, :] == 0).all() and (mask[165:, :] == 0).all(), "nothing above or below it"
    assert (mask[:, :45] == 0).all() and (mask[:, 356:] == 0).all(), "nothing beyond its round ends"
    assert set(np.unique(mask[140:161, 100:300])) <= {0, 255} | set(range(1, 255))


def test_the_eraser_takes_back_what_the_brush_marked(editor: MaskEditor) -> None:
    editor.set_brush_size(30)
    stroke(editor.canvas, [(50, 100), (350, 100)])
    editor.set_tool(MaskTool.ERASER)
    editor.set_brush_size(20)
    stroke(editor.canvas, [(200, 60), (200, 140)])
    mask = mask_array(editor)
    assert (mask[80:121, 192:209] == 0).all(), "the eraser's track is unmarked again"
    assert (mask[90:111, 100:170] == 255).all() and (mask[90:111, 230:300] == 255).all()


def test_undo_and_redo_give_back_the_exact_masks(editor: MaskEditor) -> None:
    canvas = editor.canvas
    states = [mask_array(editor).copy()]
    editor.set_brush_size(25)
    stroke(canvas, [(40, 40), (360, 260)])
    states.append(mask_array(editor).copy())
    editor.set_tool("eraser")
    stroke(canvas, [(40, 260), (360, 40)])
    states.append(mask_array(editor).copy())
    editor.set_tool("brush")
    editor.set_brush_size(7)
    stroke(canvas, [(200, 20), (210, 280), (120, 200)])
    states.append(mask_array(editor).copy())
    assert all(not np.array_equal(a, b) for a, b in itertools.pairwise(states))

    for expected in reversed(states[:-1]):
        assert editor.undo()
        assert np.array_equal(mask_array(editor), expected)
    assert not editor.undo() and not editor.document.can_undo()
    assert editor.is_empty()
    for expected in states[1:]:
        assert editor.redo()
        assert np.array_equal(mask_array(editor), expected)
    assert not editor.redo()

    editor.undo()
    editor.undo()
    stroke(canvas, [(10, 10), (30, 10)])  # a new stroke forgets what could be redone
    assert not editor.document.can_redo()
    assert editor.undo()
    assert np.array_equal(mask_array(editor), states[1])


def test_keys_switch_tools_change_the_size_and_undo(editor: MaskEditor) -> None:
    canvas = editor.canvas
    canvas.setFocus()
    editor.set_brush_size(40)
    QTest.keyClick(canvas, Qt.Key.Key_E)
    assert editor.tool() is MaskTool.ERASER
    assert editor.toolbar.eraser_button.isChecked()
    QTest.keyClick(canvas, Qt.Key.Key_B)
    assert editor.tool() is MaskTool.BRUSH and editor.toolbar.brush_button.isChecked()
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert editor.brush_size() == 48 and editor.toolbar.size.value() == 48
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert editor.brush_size() == 33
    editor.set_brush_size(2)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert editor.brush_size() == 1, "the size shrinks by a pixel at least, and stops at one"

    editor.set_brush_size(10)
    stroke(canvas, [(100, 100), (300, 100)])
    painted = mask_array(editor).copy()
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert editor.is_empty()
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(mask_array(editor), painted)
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(mask_array(editor), painted)
    QTest.keyClick(canvas, Qt.Key.Key_I)
    assert np.array_equal(mask_array(editor), 255 - painted)
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert editor.is_empty()


def test_invert_and_clear_are_steps_that_undo(editor: MaskEditor) -> None:
    editor.set_brush_size(16)
    stroke(editor.canvas, [(30, 30), (370, 30)])
    painted = mask_array(editor).copy()
    editor.toolbar.invert_button.click()
    inverted = mask_array(editor)
    assert np.array_equal(inverted, 255 - painted)
    assert inverted[200, 200] == 255 and inverted[30, 200] == 0
    editor.toolbar.clear_button.click()
    assert editor.is_empty() and not mask_array(editor).any()
    editor.toolbar.undo_button.click()
    assert np.array_equal(mask_array(editor), 255 - painted)
    editor.toolbar.undo_button.click()
    assert np.array_equal(mask_array(editor), painted)
    assert editor.toolbar.redo_button.isEnabled()


def test_the_brush_size_sets_the_width_of_the_stroke(editor: MaskEditor) -> None:
    widths = {}
    for size in (6, 24, 60):
        editor.set_mask(None)
        editor.toolbar.size.setValue(size)  # through the toolbar, as the artist does
        assert editor.brush_size() == size
        stroke(editor.canvas, [(200, 40), (200, 260)])
        widths[size] = int(np.count_nonzero(mask_array(editor)[150, :] > 127))
    for size, width in widths.items():
        assert abs(width - size) <= 2, widths


def test_a_stroke_lands_on_the_right_pixels_at_any_zoom(editor: MaskEditor) -> None:
    canvas = editor.canvas
    fitted = canvas.zoom()
    anchor = at(canvas, 120, 90)
    under = canvas.view_to_image(QPointF(anchor))
    for _ in range(3):  # three wheel notches up, around the cursor
        event = QWheelEvent(
            QPointF(anchor), QPointF(canvas.mapToGlobal(anchor)), QPoint(), QPoint(0, 120),
            Qt.MouseButton.NoButton, NO_MODIFIER, Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(canvas, event)
    assert canvas.zoom() == pytest.approx(fitted * 1.2**3)
    still = canvas.view_to_image(QPointF(anchor))
    assert still.x() == pytest.approx(under.x(), abs=1e-6) and still.y() == pytest.approx(under.y(), abs=1e-6)
    assert editor.toolbar.zoom_label.text() == f"{canvas.zoom() * 100:.0f}%"

    editor.set_brush_size(10)
    stroke(canvas, [(100, 90), (140, 90)])
    mask = mask_array(editor)
    assert (mask[86:95, 100:141] == 255).all()
    assert mask[:, :90].sum() == 0 and mask[:, 151:].sum() == 0 and mask[:80].sum() == 0

    editor.toolbar.actual_button.click()
    assert canvas.zoom() == 1.0
    stroke(canvas, [(200, 200), (200, 240)])
    assert (mask_array(editor)[200:241, 197:204] == 255).all()
    editor.toolbar.fit_button.click()
    assert canvas.zoom() == pytest.approx(fitted)


def test_the_middle_button_and_space_pan_without_painting(qtbot, editor: MaskEditor) -> None:
    canvas = editor.canvas
    canvas.set_zoom(4.0)
    start = canvas.image_to_view(QPointF(0, 0))
    centre = QPoint(canvas.width() // 2, canvas.height() // 2)
    QTest.mousePress(canvas, MIDDLE, NO_MODIFIER, centre)
    QTest.mouseMove(canvas, centre + QPoint(30, 20))
    QTest.mouseRelease(canvas, MIDDLE, NO_MODIFIER, centre + QPoint(30, 20))
    moved = canvas.image_to_view(QPointF(0, 0)) - start
    assert (moved.x(), moved.y()) == (30, 20)

    canvas.setFocus()
    QTest.keyPress(canvas, Qt.Key.Key_Space)
    QTest.mousePress(canvas, LEFT, NO_MODIFIER, centre)
    QTest.mouseMove(canvas, centre + QPoint(-50, 10))
    QTest.mouseRelease(canvas, LEFT, NO_MODIFIER, centre + QPoint(-50, 10))
    QTest.keyRelease(canvas, Qt.Key.Key_Space)
    moved = canvas.image_to_view(QPointF(0, 0)) - start
    assert (moved.x(), moved.y()) == (-20, 30)
    assert editor.is_empty() and not editor.document.can_undo(), "panning paints nothing"

    stroke(canvas, [(100, 100), (110, 100)])  # with Space released the left button paints again
    assert not editor.is_empty()


def test_mask_changed_follows_each_edit_and_not_each_move(qtbot, editor: MaskEditor) -> None:
    seen: list[str] = []
    editor.maskChanged.connect(lambda: seen.append("changed"))
    canvas = editor.canvas
    QTest.mousePress(canvas, LEFT, NO_MODIFIER, at(canvas, 50, 50))
    for x in range(60, 300, 10):
        QTest.mouseMove(canvas, at(canvas, x, 50))
    assert seen == [], "not while the stroke goes on"
    with qtbot.waitSignal(editor.maskChanged, timeout=1000):
        QTest.mouseRelease(canvas, LEFT, NO_MODIFIER, at(canvas, 300, 50))
    assert len(seen) == 1
    for edit in (editor.undo, editor.redo, editor.invert, editor.clear):
        with qtbot.waitSignal(editor.maskChanged, timeout=1000):
            edit()
    assert len(seen) == 5
    editor.clear()  # clearing an empty mask changes nothing
    editor.set_tool("eraser")
    stroke(canvas, [(10, 10), (100, 10)])  # nor does erasing where nothing is marked
    assert len(seen) == 5 and not editor.document.can_redo() and editor.document.can_undo()


def test_the_soft_edge_blurs_the_exported_mask_and_the_overlay(qtbot, editor: MaskEditor) -> None:
    editor.set_brush_size(40)
    stroke(editor.canvas, [(100, 150), (300, 150)])
    sharp = mask_array(editor, raw=False)
    assert sharp[150 - 26, 200] == 0 and editor.document.overlay.alpha(200, 150 - 26) == 0
    editor.toolbar.soft_edge.setValue(8)
    assert editor.soft_edge() == 8
    soft = mask_array(editor, raw=False)
    assert np.array_equal(mask_array(editor), sharp), "the raw mask keeps its hard edge"
    assert 0 < soft[150 - 26, 200] < 128, "the blur reaches past the stroke"
    assert 128 < soft[150 - 16, 200] < 255, "and softens inside its edge"
    assert soft[150, 200] > 245 and soft[20, 200] == 0
    # the overlay shows the same soft edge once the slider settles
    overlay = editor.document.overlay
    qtbot.waitUntil(overlay.is_current, timeout=2000)
    for y in (150 - 30, 150 - 26, 150 - 20, 150 - 14, 150):
        assert overlay.alpha(200, y) == soft[y, 200]
    # a stroke painted with the soft edge on shows it too, soon after the release
    stroke(editor.canvas, [(60, 60), (60, 240)])
    soft = mask_array(editor, raw=False)
    qtbot.waitUntil(overlay.is_current, timeout=2000)
    for x in (60 - 30, 60 - 24, 60 - 18, 60):
        assert overlay.alpha(x, 100) == soft[100, x]


def test_a_soft_edge_on_a_2048_picture_is_blurred_in_between_events(qtbot, editor: MaskEditor) -> None:
    editor.set_image(picture(2048, 2048))
    editor.set_soft_edge(8)
    overlay = editor.document.overlay
    qtbot.waitUntil(overlay.is_current, timeout=2000)
    editor.set_brush_size(80)
    stroke(editor.canvas, [(100, 1000), (1900, 1000), (1900, 1900)], steps=20)
    assert not overlay.is_current(), "the release leaves the blur to later event-loop passes"
    assert overlay.alpha(1000, 1000) == 255 and overlay.alpha(1000, 1000 - 44) == 0, "the raw stroke shows"
    qtbot.waitUntil(overlay.is_current, timeout=5000)
    soft = mask_array(editor, raw=False)
    for y in (1000 - 52, 1000 - 44, 1000 - 36, 1000):
        assert overlay.alpha(1000, y) == soft[y, 1000]
    assert 0 < overlay.alpha(1000, 1000 - 44) < 128


def test_undo_while_painting_takes_back_the_stroke_in_progress(editor: MaskEditor) -> None:
    canvas = editor.canvas
    editor.set_brush_size(12)
    stroke(canvas, [(50, 50), (150, 50)])
    first = mask_array(editor).copy()
    QTest.mousePress(canvas, LEFT, NO_MODIFIER, at(canvas, 50, 200))
    QTest.mouseMove(canvas, at(canvas, 150, 200))
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(mask_array(editor), first)
    QTest.mouseMove(canvas, at(canvas, 250, 200))  # the button is still down: nothing more is painted
    QTest.mouseRelease(canvas, LEFT, NO_MODIFIER, at(canvas, 250, 200))
    assert np.array_equal(mask_array(editor), first)
    assert editor.document.can_redo()
    editor.redo()
    assert mask_array(editor)[200, 100] == 255 and mask_array(editor)[200, 200] == 0


def test_set_mask_replaces_the_mask_and_starts_the_history_again(editor: MaskEditor) -> None:
    stroke(editor.canvas, [(10, 10), (50, 10)])
    marked = np.zeros((300, 400), np.uint8)
    marked[50:100, 200:260] = 255
    marked[200, 10] = 77
    editor.set_mask(Image.fromarray(marked, "L"))
    assert np.array_equal(mask_array(editor), marked)
    assert not editor.document.can_undo()
    editor.set_mask(Image.fromarray(marked, "L").resize((200, 150), Image.Resampling.NEAREST))
    assert mask_array(editor).shape == (300, 400) and mask_array(editor)[75, 230] == 255
    editor.set_mask(None)
    assert editor.is_empty()
    editor.set_image(QImage(64, 32, QImage.Format.Format_RGB32))
    assert editor.mask_image().size == (64, 32) and editor.is_empty()
    assert editor.size_label.text() == "64 × 32 px"


def test_a_2048_picture_paints_with_bounded_history(editor: MaskEditor) -> None:
    editor.set_image(picture(2048, 2048))
    canvas = editor.canvas
    assert canvas.zoom() < 0.5
    editor.set_brush_size(64)
    for i in range(20):
        y = 100 + i * 90
        stroke(canvas, [(200, y), (1800, y)], steps=6)
    mask = mask_array(editor)
    assert mask.shape == (2048, 2048)
    for i in range(20):
        y = 100 + i * 90
        assert (mask[y - 25 : y + 26, 200:1801] == 255).all()
        assert (mask[y + 40 : y + 50, :] == 0).all()
    # twenty strokes keep twenty strips, not twenty copies of the 4 MiB mask
    strip = 2 * 1700 * 70  # before and after of a 1,700 x 70 pixel rectangle
    assert editor.document.history_bytes() <= 20 * strip
    assert editor.document.history_bytes() < 2 * 2048 * 2048
    for _ in range(20):
        assert editor.undo()
    assert editor.is_empty()


def test_history_forgets_the_oldest_steps_past_its_budget() -> None:
    from PySide6.QtCore import QRect

    history = MaskHistory(budget_bytes=10_000, max_steps=5)
    patch = QImage(40, 40, QImage.Format.Format_Alpha8)  # 1,600 bytes; a step is 3,200
    for _ in range(4):
        history.push(QRect(0, 0, 40, 40), patch, patch)
    assert history.steps() == 3 and history.bytes_used() == 3 * 3200
    small = QImage(4, 4, QImage.Format.Format_Alpha8)
    for _ in range(6):
        history.push(QRect(0, 0, 4, 4), small, small)
    assert history.steps() == 5
    big = QImage(100, 100, QImage.Format.Format_Alpha8)
    history.push(QRect(0, 0, 100, 100), big, big)
    assert history.steps() == 1 and history.can_undo(), "the newest step stays, even over budget"


def test_the_brush_outline_shows_the_size_at_the_current_zoom(editor: MaskEditor) -> None:
    editor.set_image(Image.new("RGB", (400, 300), (60, 60, 60)))
    canvas = editor.canvas
    editor.set_brush_size(40)
    centre = at(canvas, 200, 150)
    QTest.mouseMove(canvas, centre)
    radius = 20 * canvas.zoom()

    def brightness(dx: float) -> int:
        """The lightest of the three screen pixels around `dx` right of the cursor."""
        shot = canvas.grab().toImage()
        x = round(centre.x() + dx)
        return max(shot.pixelColor(x + i, centre.y()).lightness() for i in (-1, 0, 1))

    assert brightness(radius) > 150, "a light ring at the brush's edge"
    assert brightness(0) < 80 and brightness(radius / 2) < 80 and brightness(radius + 8) < 80
    canvas.set_zoom(canvas.zoom() * 2, QPointF(centre))
    assert brightness(2 * radius) > 150 and brightness(radius) < 80
    assert editor.is_empty(), "hovering paints nothing"


def test_the_mask_is_saved_beside_its_picture(tmp_path: Path, editor: MaskEditor) -> None:
    editor.set_brush_size(20)
    stroke(editor.canvas, [(50, 50), (150, 50)])
    photo = tmp_path / "2024-05-01_seed7_fox.png"
    saved = editor.save_mask(photo)
    assert saved == tmp_path / "2024-05-01_seed7_fox.mask.png" == mask_path_beside(photo)
    with Image.open(saved) as reopened:
        assert reopened.mode == "L" and reopened.size == (400, 300)
        assert np.array_equal(np.asarray(reopened), mask_array(editor, raw=False))
    save_mask_png(Image.new("L", (8, 8), 255), photo)  # a newer mask replaces the older one
    with Image.open(saved) as reopened:
        assert reopened.size == (8, 8)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)] == []


def test_the_toolbar_follows_the_canvas(editor: MaskEditor) -> None:
    bar = editor.toolbar
    assert not bar.undo_button.isEnabled() and not bar.redo_button.isEnabled()
    bar.eraser_button.click()
    assert editor.tool() is MaskTool.ERASER
    bar.brush_button.click()
    stroke(editor.canvas, [(100, 100), (200, 100)])
    assert bar.undo_button.isEnabled() and not bar.redo_button.isEnabled()
    bar.undo_button.click()
    assert editor.is_empty() and bar.redo_button.isEnabled()
    bar.redo_button.click()
    assert not editor.is_empty()
    editor.set_soft_edge(5)
    assert bar.soft_edge.value() == 5
    for button in (bar.brush_button, bar.undo_button, bar.fit_button):
        assert "(" in button.toolTip(), "tooltips name the shortcut"


def test_an_editor_without_a_picture_says_so(qtbot) -> None:
    widget = MaskEditor()
    qtbot.addWidget(widget)
    assert widget.is_empty()
    assert not widget.toolbar.clear_button.isEnabled()
    with pytest.raises(RuntimeError):
        widget.mask_image()
    with pytest.raises(RuntimeError):
        widget.set_mask(None)


def test_the_editor_keys_win_over_the_window_shortcuts(qtbot) -> None:
    from PySide6.QtGui import QAction, QKeySequence
    from PySide6.QtWidgets import QPushButton, QVBoxLayout, QWidget

    window = QWidget()
    qtbot.addWidget(window)
    fired: list[str] = []
    for keys in ("Ctrl+Z", "B", "Delete"):
        action = QAction(keys, window)
        action.setShortcut(QKeySequence(keys))
        action.triggered.connect(lambda _checked=False, keys=keys: fired.append(keys))
        window.addAction(action)
    editor = MaskEditor()
    other = QPushButton("Elsewhere")
    column = QVBoxLayout(window)
    column.addWidget(editor)
    column.addWidget(other)
    window.resize(800, 600)
    with qtbot.waitActive(window):
        window.show()
        window.activateWindow()
    editor.set_image(picture())
    editor.setFocus()
    assert editor.canvas.hasFocus(), "the editor hands its focus to the canvas"
    editor.set_tool("eraser")
    stroke(editor.canvas, [(100, 100), (200, 100)])  # erases nothing: not a step
    editor.set_tool("brush")
    stroke(editor.canvas, [(100, 100), (200, 100)])
    editor.set_tool("eraser")
    QTest.keyClick(editor.canvas, Qt.Key.Key_B)
    QTest.keyClick(editor.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert fired == [] and editor.tool() is MaskTool.BRUSH and editor.is_empty()
    QTest.keyClick(editor.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(editor.canvas, Qt.Key.Key_Delete)
    assert fired == [] and editor.is_empty() and editor.document.can_undo()
    other.setFocus()  # elsewhere in the window the same keys reach the window's shortcuts
    QTest.keyClick(other, Qt.Key.Key_Delete)
    QTest.keyClick(other, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert fired == ["Delete", "Ctrl+Z"]
    assert editor.document.can_undo() and editor.is_empty(), "and leave the mask alone"


def test_the_overlay_colour_stands_apart_from_the_picture(editor: MaskEditor) -> None:
    from studio.ui.mask_overlay import OVERLAY_COLOR

    red = Image.new("RGB", (200, 200), (20, 40, 200))
    red.paste((240, 40, 60), (20, 20, 180, 180))  # mostly red, as a red circle filling the frame
    editor.set_image(red)
    chosen = editor.canvas.document.overlay.color()
    assert chosen != OVERLAY_COLOR
    editor.set_image(Image.new("RGB", (200, 200), (20, 40, 200)))
    assert editor.canvas.document.overlay.color() == OVERLAY_COLOR
