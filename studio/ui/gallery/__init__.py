"""The gallery view: a grid of every saved image, a viewer, and image drag and drop."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from studio.ui.events import JobEvent, Noised, NoiseFailed, Saved
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

    panel = GalleryPanel(gallery, window.controls)
    window.add_panel("Gallery", panel)
    # saved images (with their metadata) and the viewer's noised pictures come from the worker
    window.controller.event.connect(partial(_on_worker_event, panel, window))
    panel.noise_requested.connect(window.controller.request_noise)
    panel.noise_enabled = True
    panel.start_image_chosen.connect(partial(_start_from, window))
    status = window.statusBar()
    panel.message.connect(lambda text: status.showMessage(text, STATUS_MS))
    panel.drop_loader = ImageDropLoader(
        window, window.controls, lambda text: status.showMessage(text, STATUS_MS)
    )
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(panel.shutdown)
    QTimer.singleShot(0, panel.reconcile)
    return panel


def _start_from(window: MainWindow, path: str) -> None:
    if window.start_image.set_start_image(path):
        window.tabs.setCurrentIndex(0)  # back to Create, where the start image and strength are


def _on_worker_event(panel: GalleryPanel, window: MainWindow, event: JobEvent) -> None:
    match event.event:
        case Saved(path=path, metadata=metadata):
            panel.add_saved(path, metadata)
        case Noised(path=path, fraction=fraction, picture=picture):
            panel.show_noised(path, fraction, picture)
        case NoiseFailed(message=message):
            window.statusBar().showMessage(message, STATUS_MS)


__all__ = ["GalleryPanel", "ImageDropLoader", "install_gallery"]
