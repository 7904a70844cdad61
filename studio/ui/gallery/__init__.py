"""The gallery view: a grid of every saved image, a viewer, and image drag and drop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio.ui.gallery.drop import ImageDropLoader
from studio.ui.gallery.panel import GalleryPanel

if TYPE_CHECKING:
    from studio.library.gallery import Gallery
    from studio.ui.main_window import MainWindow

STATUS_MS = 6000


def install_gallery(window: MainWindow, gallery: Gallery) -> GalleryPanel:
    """Add the gallery as a tab of the main window and wire it: saved images appear in it,
    reuse goes to the parameter controls, images dropped on the window load their parameters,
    and the index is checked against the folder once the event loop runs."""
    from PySide6.QtCore import QCoreApplication, QTimer

    panel = GalleryPanel(gallery, window.parameters)
    window.add_panel("Gallery", panel)
    window.image_saved.connect(panel.add_saved)
    status = window.statusBar()
    panel.message.connect(lambda text: status.showMessage(text, STATUS_MS))
    panel.drop_loader = ImageDropLoader(
        window, window.parameters, lambda text: status.showMessage(text, STATUS_MS)
    )
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(panel.shutdown)
    QTimer.singleShot(0, panel.reconcile)
    return panel


__all__ = ["GalleryPanel", "ImageDropLoader", "install_gallery"]
