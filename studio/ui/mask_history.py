"""Undo and redo for the mask: each step keeps only the rectangle it changed, before and after."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage

HISTORY_BYTES = 96 * 2**20  # a dozen whole-mask edits of a 2048x2048 mask, or thousands of strokes
HISTORY_STEPS = 200


@dataclass(frozen=True)
class MaskStep:
    """One edit: the mask inside `rect` before and after it."""

    rect: QRect
    before: QImage
    after: QImage

    def size_in_bytes(self) -> int:
        return self.before.sizeInBytes() + self.after.sizeInBytes()


class MaskHistory:
    """The steps that can be undone and redone, within a memory budget and a step count;
    past either, the oldest steps are forgotten first. A new step forgets what could be redone."""

    def __init__(self, budget_bytes: int = HISTORY_BYTES, max_steps: int = HISTORY_STEPS) -> None:
        self._budget = budget_bytes
        self._max_steps = max_steps
        self._done: list[MaskStep] = []
        self._undone: list[MaskStep] = []
        self._bytes = 0

    def push(self, rect: QRect, before: QImage, after: QImage) -> None:
        step = MaskStep(QRect(rect), before, after)
        for dropped in self._undone:
            self._bytes -= dropped.size_in_bytes()
        self._undone.clear()
        self._done.append(step)
        self._bytes += step.size_in_bytes()
        # the newest step is always kept, even when it alone is over the budget
        while len(self._done) > 1 and (self._bytes > self._budget or len(self._done) > self._max_steps):
            self._bytes -= self._done.pop(0).size_in_bytes()

    def undo(self) -> MaskStep | None:
        """The step to take back (apply its `before`), or None."""
        if not self._done:
            return None
        step = self._done.pop()
        self._undone.append(step)
        return step

    def redo(self) -> MaskStep | None:
        """The step to do again (apply its `after`), or None."""
        if not self._undone:
            return None
        step = self._undone.pop()
        self._done.append(step)
        return step

    def can_undo(self) -> bool:
        return bool(self._done)

    def can_redo(self) -> bool:
        return bool(self._undone)

    def steps(self) -> int:
        return len(self._done)

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._bytes = 0

    def bytes_used(self) -> int:
        return self._bytes
