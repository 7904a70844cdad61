"""A window that fits its screen: the first window sized to the screen it opens on, a restored
one moved back onto a screen that exists, and a column that scrolls down but never sideways,
even when the wheel passes over one of its spin boxes, combo boxes or sliders."""

from __future__ import annotations

from PySide6.QtCore import QChildEvent, QEvent, QObject, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QScreen, QWheelEvent
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox, QComboBox, QScrollArea, QScrollBar, QWidget

SCREEN_SHARE = 0.85  # of the screen's free area, for the first window
LARGEST_FIRST = QSize(1680, 1050)  # beyond this a first window is only emptier
SMALLEST_FIRST = QSize(1024, 640)  # unless the screen itself is smaller
# controls that take the wheel to change their value: in a scrolling column only a focused one may
WHEEL_CONTROLS = (QAbstractSpinBox, QComboBox, QAbstractSlider)


def _turns_a_value(widget: QObject) -> bool:
    # a scroll bar is a slider too, but the wheel over it (a long prompt's) is meant to scroll
    return isinstance(widget, WHEEL_CONTROLS) and not isinstance(widget, QScrollBar)


def first_size(available: QSize) -> QSize:
    """The first window's size on a screen with `available` room: 85% of it, within
    SMALLEST_FIRST..LARGEST_FIRST, and never larger than the screen."""
    width = min(max(round(available.width() * SCREEN_SHARE), SMALLEST_FIRST.width()), LARGEST_FIRST.width())
    height = min(max(round(available.height() * SCREEN_SHARE), SMALLEST_FIRST.height()), LARGEST_FIRST.height())
    return QSize(min(width, available.width()), min(height, available.height()))


def _screen_of(window: QWidget) -> QScreen | None:
    return window.screen() or QGuiApplication.primaryScreen()


def place_first_window(window: QWidget) -> None:
    """Size the window to its screen and centre it there."""
    screen = _screen_of(window)
    if screen is None:
        return
    area = screen.availableGeometry()
    size = first_size(area.size()).expandedTo(window.minimumSize()).boundedTo(area.size())
    window.resize(size)
    window.move(area.center() - QPoint(size.width() // 2, size.height() // 2))


def clamp_to_screens(window: QWidget) -> None:
    """Bring a restored window back onto a screen that exists, no larger than that screen."""
    screens = QGuiApplication.screens()
    if not screens:
        return
    frame = window.frameGeometry()
    home = next((s for s in screens if s.availableGeometry().contains(frame.center())), None)
    if home is None:  # saved on a screen that is gone: open on the primary one
        home = QGuiApplication.primaryScreen() or screens[0]
    area = home.availableGeometry()
    extra = frame.size() - window.geometry().size()  # the title bar and borders
    room = QSize(max(1, area.width() - extra.width()), max(1, area.height() - extra.height()))
    if window.width() > room.width() or window.height() > room.height():
        window.resize(window.size().boundedTo(room))
    frame = window.frameGeometry()
    moved = QRect(frame)
    moved.moveLeft(min(max(frame.left(), area.left()), area.right() - frame.width() + 1))
    moved.moveTop(min(max(frame.top(), area.top()), area.bottom() - frame.height() + 1))
    if moved.topLeft() != frame.topLeft():
        window.move(moved.topLeft())


class ColumnScrollArea(QScrollArea):
    """A scroll area for a column of controls: it scrolls down only, and asks for the width the
    column needs plus the vertical scroll bar, so no control is cut at the right edge.

    The wheel over a spin box, combo box or slider that does not have the focus scrolls the
    column instead of changing that control's value; click or Tab into a control to wheel it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def setWidget(self, widget: QWidget) -> None:
        super().setWidget(widget)
        self._watch(widget)

    def _watch(self, root: QWidget) -> None:
        """Filter the wheel of every control under `root`, and hear of widgets added later."""
        for child in [root, *root.findChildren(QWidget)]:
            child.installEventFilter(self)  # installing twice keeps one filter
            # the default wheel focus would give the control the focus the wheel then tests for
            if _turns_a_value(child) and child.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                child.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if (kind == QEvent.Type.Wheel and isinstance(event, QWheelEvent)
                and _turns_a_value(watched) and isinstance(watched, QWidget) and not watched.hasFocus()):
            self.wheelEvent(event)  # scrolls the column (or nothing, at its end)
            return True
        # a widget is polished before it is first shown, its children with it: rows the column
        # adds later (a LoRA, a start image) are watched from then on
        if kind == QEvent.Type.ChildPolished and isinstance(event, QChildEvent):
            child = event.child()
            if isinstance(child, QWidget):
                self._watch(child)
        return super().eventFilter(watched, event)

    def _needed_width(self) -> int:
        column = self.widget()
        if column is None:
            return 0
        bar = self.verticalScrollBar().sizeHint().width()
        return column.minimumSizeHint().width() + bar + 2 * self.frameWidth()

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(max(hint.width(), self._needed_width()), hint.height())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max(hint.width(), self._needed_width()), hint.height())
