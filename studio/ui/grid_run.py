"""An X/Y/Z grid run in the window: each cell is a queued job; when all are done the labeled
grid image is composed and saved off the GUI thread.

Signals:
    cell_preview(int, object): cell index and its newest step preview (HxWx3 uint8).
    cell_done(int, str): cell index and the saved file.
    finished(str): the grid image's path ("" when it could not be saved; see `message`).
    stopped(str): the grid ended without a grid image, and why, in words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from studio.engine.grid.cells import GridPlan
from studio.engine.run.events import Cancelled, Failed, Step
from studio.ui.controller import GenerationController
from studio.ui.events import Delivered, JobEvent
from studio.ui.gallery.background import BackgroundTask


class GridRun(QObject):
    cell_preview = Signal(int, object)
    cell_done = Signal(int, str)
    finished = Signal(str)
    stopped = Signal(str)

    def __init__(
        self, plan: GridPlan, controller: GenerationController, gallery_dir: Path, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.plan = plan
        self._controller = controller
        self._gallery_dir = gallery_dir
        self._cells: dict[int, int] = {}  # job id -> cell index
        self.images: dict[int, np.ndarray] = {}
        self.files: dict[int, str] = {}
        self._ended: set[int] = set()
        self.cancelled = False
        self.message = ""
        self._saver = BackgroundTask(self)
        self._saver.finished.connect(self._on_saved)
        controller.event.connect(self._on_event)

    def start(self) -> None:
        for index, cell in enumerate(self.plan.cells):
            self._cells[self._controller.submit(cell.request).id] = index

    def cancel(self) -> None:
        """Stop the rest: the waiting cells leave the queue, the running one stops at its step."""
        self.cancelled = True
        for job_id, index in self._cells.items():
            if index not in self._ended and self._controller.remove(job_id):
                self._ended.add(index)
        current = self._controller.current
        if current is not None and current.id in self._cells:
            self._controller.cancel_current()
        self._check_end()

    def wait(self) -> None:
        self._saver.wait()

    @Slot(object)
    def _on_event(self, job_event: JobEvent) -> None:
        index = self._cells.get(job_event.job)
        if index is None:
            return
        match job_event.event:
            case Step(preview=preview) if preview is not None:
                self.cell_preview.emit(index, preview)
            case Delivered(arrays=arrays, paths=paths):
                if arrays:
                    self.images[index] = arrays[0]
                    self.cell_preview.emit(index, arrays[0])
                if paths and paths[0]:
                    self.files[index] = paths[0]
                    self.cell_done.emit(index, paths[0])
                self._ended.add(index)
                self._check_end()
            case Failed(message=message):
                self.message = message
                self._ended.add(index)
                self._check_end()
            case Cancelled():
                self._ended.add(index)
                self._check_end()
            case _:
                pass

    def _check_end(self) -> None:
        if len(self._ended) < len(self.plan.cells) or not self._cells:
            return
        self._controller.event.disconnect(self._on_event)
        self._cells = {}
        if self.cancelled:
            self.stopped.emit(f"Grid cancelled: {len(self.files)} of {len(self.plan.cells)} cells were made and kept.")
            return
        if len(self.images) < len(self.plan.cells):
            self.stopped.emit(f"The grid is incomplete: {self.message or 'a cell did not finish'}")
            return
        self._saver.run(self._compose_and_save)

    def _compose_and_save(self) -> list[str]:
        from PIL import Image

        from studio.library.grid_image import compose_grid, grid_chunk
        from studio.library.store import save_image

        plan = self.plan
        by_place = {(c.x, c.y, c.z): i for i, c in enumerate(plan.cells)}
        saved = []
        for z in range(plan.size(2)):
            rows: list[list[Any]] = [
                [Image.fromarray(self.images[by_place[(x, y, z)]]) for x in range(plan.size(0))]
                for y in range(plan.size(1))
            ]
            title = plan.labels(2)[z] if len(plan.axes) > 2 else ""
            row_labels = plan.labels(1) if len(plan.axes) > 1 else [""] * plan.size(1)
            picture = compose_grid(rows, plan.labels(0), row_labels, title=title)
            names = [Path(self.files[i]).name for i, c in enumerate(plan.cells) if c.z == z and i in self.files]
            path = save_image(picture, plan.cells[0].request, self._gallery_dir,
                              extra_chunks=grid_chunk(plan.description(), names))
            saved.append(str(path))
        return saved

    @Slot(object, str)
    def _on_saved(self, result: object, problem: str) -> None:
        if problem or not isinstance(result, list):
            self.message = f"The grid image could not be saved: {problem}."
            self.stopped.emit(self.message)
            return
        for path in result:
            self.finished.emit(path)
