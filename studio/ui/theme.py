"""The dark stylesheet, its palette, and the line icons tinted to match."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QApplication

from studio.config.paths import resources_dir

TEXT = "#e4e6eb"
DIM = "#8d93a0"
DISABLED = "#5d626d"
ACCENT = "#7c6cf2"
CANVAS = "#111215"
FRAME = "#2a2c33"


def style_file() -> Path:
    return resources_dir() / "style" / "dark.qss"


def icons_dir() -> Path:
    return resources_dir() / "icons"


def apply_theme(app: QApplication) -> None:
    """Fusion style, a dark palette for what the stylesheet does not reach, and the stylesheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#17181c"),
        (QPalette.ColorRole.WindowText, TEXT),
        (QPalette.ColorRole.Base, "#25272e"),
        (QPalette.ColorRole.AlternateBase, "#1f2126"),
        (QPalette.ColorRole.Text, TEXT),
        (QPalette.ColorRole.Button, "#2a2c33"),
        (QPalette.ColorRole.ButtonText, TEXT),
        (QPalette.ColorRole.Highlight, "#6d5fe0"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
        (QPalette.ColorRole.ToolTipBase, "#25272e"),
        (QPalette.ColorRole.ToolTipText, TEXT),
        (QPalette.ColorRole.PlaceholderText, "#6b7180"),
        (QPalette.ColorRole.Link, ACCENT),
    ):
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor(DISABLED))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor(DISABLED))
    app.setPalette(palette)
    try:
        sheet = style_file().read_text(encoding="utf-8")
        app.setStyleSheet(sheet.replace("@ICONS@", icons_dir().as_posix()))
    except OSError:
        pass  # a missing stylesheet leaves the palette: plain but usable
    app.setWindowIcon(QIcon(str(icons_dir() / "studio.svg")))


def icon(name: str, color: str = TEXT) -> QIcon:
    """A line icon from resources/icons, drawn in `color` (and greyed when disabled)."""
    path = icons_dir() / f"{name}.svg"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        return QIcon()
    result = QIcon()
    for mode, tint in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, DISABLED)):
        renderer = QSvgRenderer(QByteArray(source.replace("currentColor", tint).encode()))
        for size in (16, 20, 24):
            pixmap = QPixmap(QSize(size, size) * 2)
            pixmap.setDevicePixelRatio(2.0)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            renderer.render(painter, QRectF(0, 0, size, size))
            painter.end()
            result.addPixmap(pixmap, mode)
    return result
