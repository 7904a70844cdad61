"""Run as a program (under QT_SCALE_FACTOR=2 for a 200% screen): paints the preview, the mask
canvas, the compare slider and a result thumbnail with a picture of one-pixel stripes, and
prints, as JSON, how much of the stripes survive in the device pixels each one painted.

Stripes one pixel wide survive only when the picture reaches the screen one picture pixel per
device pixel; a picture scaled to the widget's logical size and doubled again turns them grey."""

from __future__ import annotations

import json
import sys

import numpy as np
from PySide6.QtCore import QSize
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication


def stripes(side: int) -> np.ndarray:
    picture = np.zeros((side, side, 3), np.uint8)
    picture[:, ::2] = 255
    return picture


def as_qimage(array: np.ndarray) -> QImage:
    from studio.ui.preview import image_from_array

    return image_from_array(array)


def contrast(image: QImage, x: int, y: int, width: int) -> float:
    """The spread of red values along `width` device pixels of row `y` from `x`: 127.5 for
    crisp black-and-white stripes, near 0 where they were blurred into grey."""
    values = [image.pixelColor(x + i, y).red() for i in range(width)]
    return float(np.std(values))


def middle(image: QImage, ratio: float) -> tuple[int, int]:
    return image.width() // 2 - round(20 * ratio), image.height() // 2


def probe() -> dict[str, object]:
    from studio.ui.compare_slider import CompareSlider
    from studio.ui.mask_canvas import MaskCanvas
    from studio.ui.preview import PreviewView
    from studio.ui.results import _thumbnail

    found: dict[str, object] = {}
    view = PreviewView()
    view.resize(288, 288)  # a 256-pixel picture area inside the margins
    view.show()
    ratio = view.devicePixelRatioF()
    found["ratio"] = ratio
    view.show_array(stripes(512))
    shot = view.grab().toImage()
    found["preview_pixels"] = [shot.width(), shot.height()]
    found["preview_contrast"] = contrast(shot, *middle(shot, ratio), round(40 * ratio))
    view.show_array(stripes(2048))  # larger than the screen shows: shrunk once, at device size
    view.grab()
    painted = view.painted_pixmap()
    rect = view.image_rect()
    found["shrunk_ratio"] = painted.devicePixelRatio() if painted is not None else None
    found["shrunk_pixels"] = [painted.width(), painted.height()] if painted is not None else None
    found["shrunk_logical"] = [rect.width(), rect.height()]

    canvas = MaskCanvas()
    canvas.resize(400, 400)
    canvas.show()
    canvas.set_image(as_qimage(stripes(720)))
    canvas.fit_to_view()
    shot = canvas.grab().toImage()
    found["mask_zoom"] = canvas.zoom()
    found["mask_contrast"] = contrast(shot, *middle(shot, ratio), round(40 * ratio))

    picture = as_qimage(stripes(512))
    slider = CompareSlider(picture, picture)
    slider.resize(256, 256)
    slider.show()
    shot = slider.grab().toImage()
    found["compare_contrast"] = contrast(shot, round(20 * ratio), shot.height() // 2, round(40 * ratio))

    icon = _thumbnail(stripes(168))
    thumb = icon.pixmap(QSize(84, 84), ratio).toImage()
    found["thumb_pixels"] = [thumb.width(), thumb.height()]
    found["thumb_contrast"] = contrast(thumb, 10, thumb.height() // 2, 40)
    return found


if __name__ == "__main__":
    app = QApplication(sys.argv[:1])
    print(json.dumps(probe()))
