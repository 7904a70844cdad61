"""The wheel in the parameters column: over a control without the focus it scrolls the column
and leaves the value alone; over the focused control it changes the value."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, QSize, Qt
from PySide6.QtGui import QGuiApplication, QWheelEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QScrollArea, QSpinBox, QWidget

from studio.config.paths import StudioPaths
from studio.ui.window_fit import ColumnScrollArea
from tests.ui_helpers import OFFSCREEN_NOISE, open_window

pytestmark = pytest.mark.qt_log_ignore(OFFSCREEN_NOISE)

NOTCH = 120  # one wheel notch, in eighths of a degree


def wheel(widget: QWidget, notches: int) -> None:
    """Turn the wheel over the middle of `widget`. A real turn reaches a spin box after its
    line edit passed it on; Qt does not pass on a made-up one, so it goes to the control."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, NOTCH * notches), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


@pytest.fixture
def window(qtbot, tmp_path: Path, shared_engine):
    window = open_window(qtbot, StudioPaths.under(tmp_path / "home"), shared_engine, persist=False)
    window.resize(QSize(1024, 640))  # short enough that the column scrolls
    qtbot.waitUntil(lambda: window.size() == QSize(1024, 640))
    QGuiApplication.processEvents()
    return window


def column(window) -> QScrollArea:
    scroll = window.findChild(QScrollArea, "ParametersScroll")
    assert scroll.verticalScrollBar().maximum() > 0, "the column must be taller than its viewport"
    return scroll


def test_the_wheel_over_an_unfocused_spin_box_scrolls_the_column(qtbot, window):
    scroll = column(window)
    bar = scroll.verticalScrollBar()
    steps = window.parameters.steps
    window.parameters.prompt.setFocus()  # the focus is elsewhere, as after typing a prompt
    qtbot.waitUntil(lambda: window.parameters.prompt.hasFocus())
    before = steps.value()
    assert bar.value() == 0
    wheel(steps.spin, -1)  # towards the user: down the column
    assert steps.value() == before
    assert bar.value() > 0
    scrolled = bar.value()
    wheel(steps.slider, 1)  # the slider beside it scrolls back up
    assert steps.value() == before
    assert bar.value() < scrolled
    for box in (window.parameters.scheduler_box, window.parameters.batch_box):
        value = box.currentIndex() if box is window.parameters.scheduler_box else box.value()
        wheel(box, -1)
        assert (box.currentIndex() if box is window.parameters.scheduler_box else box.value()) == value


def test_the_wheel_over_the_focused_spin_box_changes_its_value(qtbot, window):
    scroll = column(window)
    bar = scroll.verticalScrollBar()
    steps = window.parameters.steps
    window.activateWindow()
    steps.spin.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(lambda: steps.spin.hasFocus())
    before, position = steps.value(), bar.value()
    wheel(steps.spin, 1)
    assert steps.value() == before + steps.spin.singleStep()
    assert bar.value() == position


def test_controls_of_the_column_do_not_take_the_focus_from_the_wheel(window):
    scroll = window.findChild(QScrollArea, "ParametersScroll")
    for box in scroll.widget().findChildren(QSpinBox):
        assert box.focusPolicy() == Qt.FocusPolicy.StrongFocus, box.objectName()


def test_controls_added_to_a_column_later_are_guarded_too(qtbot):
    scroll = ColumnScrollArea()
    qtbot.addWidget(scroll)
    content = QWidget()
    content.setMinimumHeight(2000)
    typing = QLineEdit(content)  # where the focus is
    scroll.setWidget(content)
    scroll.resize(300, 200)
    scroll.show()
    qtbot.waitExposed(scroll)
    late = QSpinBox(content)  # a row the column grows after it is shown
    late.setRange(0, 100)
    late.setValue(50)
    late.show()
    typing.setFocus()
    qtbot.waitUntil(typing.hasFocus)
    assert late.focusPolicy() == Qt.FocusPolicy.StrongFocus
    wheel(late, -1)
    assert late.value() == 50
    assert scroll.verticalScrollBar().value() > 0
