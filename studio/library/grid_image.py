"""The labeled X/Y grid picture, composed with Pillow: column labels above, row labels at the left.

Labels wrap to the cell's width and are drawn at a size that stays legible on small cells.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
GAP = 4


def compose_grid(
    cells: list[list[Image.Image | None]], column_labels: list[str], row_labels: list[str], title: str = ""
) -> Image.Image:
    """`cells[row][column]` into one picture; a missing cell (cancelled) is left blank."""
    first = next(c for row in cells for c in row if c is not None)
    width, height = first.size
    font = _font(max(14, min(28, width // 10)))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    # As wide as the longest row label needs, up to two cells (past that, labels wrap).
    widest = max((probe.textlength(text, font=font) for text in row_labels), default=0)
    label_width = int(min(widest + 4 * GAP, max(2 * width, 200)))
    column_lines = [_wrap(probe, text, font, width) for text in column_labels]
    row_lines = [_wrap(probe, text, font, label_width - 2 * GAP) for text in row_labels]
    line_height = _line_height(probe, font)
    top = (max((len(lines) for lines in column_lines), default=0) * line_height + 2 * GAP) if any(column_labels) else 0
    if title:
        top += line_height + GAP
    left = label_width if any(row_labels) else 0
    columns, rows = len(cells[0]), len(cells)
    canvas = Image.new("RGB", (left + columns * (width + GAP) + GAP, top + rows * (height + GAP) + GAP), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((GAP, GAP), title, font=font, fill=INK)
    label_top = top - len(max(column_lines, key=len, default=[])) * line_height - GAP if any(column_labels) else 0
    for column, lines in enumerate(column_lines):
        x0 = left + GAP + column * (width + GAP)
        for number, line in enumerate(lines):
            text_width = probe.textlength(line, font=font)
            draw.text((x0 + (width - text_width) / 2, label_top + number * line_height), line, font=font, fill=INK)
    for row, lines in enumerate(row_lines):
        y0 = top + GAP + row * (height + GAP) + (height - len(lines) * line_height) / 2
        for number, line in enumerate(lines):
            text_width = probe.textlength(line, font=font)
            draw.text((left - GAP - text_width, y0 + number * line_height), line, font=font, fill=INK)
    for row, row_cells in enumerate(cells):
        for column, cell in enumerate(row_cells):
            if cell is not None:
                canvas.paste(cell.convert("RGB").resize((width, height)),
                             (left + GAP + column * (width + GAP), top + GAP + row * (height + GAP)))
    return canvas


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans.ttf", "Arial.ttf", "LiberationSans-Regular.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


def _line_height(draw: ImageDraw.ImageDraw, font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> int:
    box = draw.textbbox((0, 0), "Ag", font=font)
    return int(box[3] - box[1]) + 4


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
          width: int) -> list[str]:
    """Words into lines no wider than `width`; a word longer than a line is cut, never lost."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}".strip()
            if draw.textlength(candidate, font=font) <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
            while draw.textlength(line, font=font) > width and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and draw.textlength(line[:cut], font=font) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines[:6]  # past six lines a label is a paragraph; the metadata keeps it whole


GRID_CHUNK = b"stGr"  # private: the grid's axes and its cells' files, as JSON


def grid_chunk(description: dict[str, object], cell_files: list[str]) -> dict[bytes | str, bytes]:
    """The extra PNG chunk a grid image carries, naming its axes and the cells it shows."""
    import json

    data = {"schema": 1, "axes": description, "cells": cell_files}
    return {GRID_CHUNK: json.dumps(data, ensure_ascii=False, sort_keys=True).encode()}
