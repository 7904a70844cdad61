"""The progress line under the canvas."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from studio.ui.widgets import plain_label

if TYPE_CHECKING:
    pass



def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}:{secs:02d}"


class RunStatus(QWidget):
    """Step k/N, iterations per second and time left, above a thin progress bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.state = plain_label("Loading the engine…", "StatsLabel")
        self.stats = plain_label("", "StatsLabel")
        self.stats.setAlignment(Qt.AlignmentFlag.AlignRight)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.state, 1)
        top.addWidget(self.stats)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        self.stepping = False  # from a run's start until its outcome is shown

    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def start(self, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(0)
        self.state.setText(f"Step 0/{total}")
        self.stats.setText("")
        self.stepping = True

    def step(self, index: int, total: int, elapsed: float) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(index)
        self.state.setText(f"Step {index}/{total}")
        if elapsed > 0 and index > 0:
            rate = index / elapsed
            eta = (total - index) / rate
            speed = f"{rate:.1f} it/s" if rate >= 1 else f"{1 / rate:.1f} s/it"
            self.stats.setText(f"{speed} · {format_duration(eta)} left")

    def done(self, text: str, *, complete: bool = False) -> None:
        self.state.setText(text)
        self.stepping = False
        self.stats.setText("")
        self.bar.setValue(self.bar.maximum() if complete else 0)


