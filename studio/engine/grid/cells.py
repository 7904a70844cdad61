"""The cells of an X/Y/Z grid: one request per combination of the axes' values."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from studio.engine.grid.axes import Axis, check_axes
from studio.engine.run.request import GenerationRequest


@dataclass(frozen=True)
class GridCell:
    x: int
    y: int
    z: int
    request: GenerationRequest


@dataclass(frozen=True)
class GridPlan:
    """Every cell of a grid, X fastest, then Y, then Z (one grid image per Z value)."""

    axes: tuple[Axis, ...]
    cells: tuple[GridCell, ...]

    def size(self, index: int) -> int:
        return len(self.axes[index].values) if index < len(self.axes) else 1

    def labels(self, index: int) -> list[str]:
        if index >= len(self.axes):
            return [""]
        axis = self.axes[index]
        return [axis.label(value) for value in axis.values]

    def description(self) -> dict[str, Any]:
        """What the grid image's metadata says about its axes."""
        return {name: {"axis": axis.text, "labels": self.labels(i)}
                for i, (name, axis) in enumerate(zip("xyz", self.axes, strict=False))}


def plan_grid(base: GenerationRequest, axes: list[Axis]) -> GridPlan:
    """One request per cell; a random seed is drawn once, so the cells differ only by the axes."""
    check_axes(axes, base)
    base = base.replace(batch=1).with_seed()
    ranges = [range(len(axes[i].values)) if i < len(axes) else range(1) for i in range(3)]
    cells = []
    for z, y, x in itertools.product(ranges[2], ranges[1], ranges[0]):
        request = base
        for axis, index in zip(axes, (x, y, z), strict=False):
            request = axis.apply(request, axis.values[index])
        cells.append(GridCell(x, y, z, request))
    return GridPlan(tuple(axes), tuple(cells))
