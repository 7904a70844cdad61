"""The gallery view: a grid of every saved image, a viewer, and image drag and drop."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from studio.ui.events import JobEvent, Noised, NoiseFailed, Saved, Upscaled, UpscaleFailed
from studio.ui.gallery.drop import ImageDropLoader
from studio.ui.gallery.panel import GalleryPanel

if TYPE_CHECKING:
    from studio.engine.run.request import GenerationRequest
    from studio.library.gallery import Gallery
    from studio.ui.main_window import MainWindow

STATUS_MS = 6000
VARIATIONS = 4


def install_gallery(window: MainWindow, gallery: Gallery) -> GalleryPanel:
    """Add the gallery as a tab of the main window and wire it: saved images appear in it,
    reuse goes to the parameter controls (saying which of the image's LoRAs are missing), images
    dropped on the window load their parameters, and the index is checked against the folder
    once the event loop runs."""
    from PySide6.QtCore import QCoreApplication, QTimer

    from studio.ui.addon_check import AddOnLookups, CheckedControls

    # reuse into the controls says which of the image's LoRAs and embeddings are missing
    controls = CheckedControls(window.controls, AddOnLookups(window.paths, window.settings), window.show_notice)
    panel = GalleryPanel(gallery, controls)
    window.add_panel("Gallery", panel)
    # saved images (with their metadata) and the viewer's noised pictures come from the worker
    window.controller.event.connect(partial(_on_worker_event, panel, window))
    window.picture_saved.connect(panel.add_saved)
    panel.noise_requested.connect(window.controller.request_noise)
    panel.noise_enabled = True
    panel.start_image_chosen.connect(partial(_start_from, window))
    panel.variations_chosen.connect(partial(_vary, window))
    panel.upscale_chosen.connect(partial(_upscale, window, gallery))
    status = window.statusBar()
    panel.message.connect(lambda text: status.showMessage(text, STATUS_MS))
    panel.drop_loader = ImageDropLoader(
        window, controls, lambda text: status.showMessage(text, STATUS_MS)
    )
    from studio.ui.prompt_history import PromptHistory

    window.prompt_history = PromptHistory(window.parameters.prompt, gallery.index.prompts, window.controls, window)
    window.prompt_history.message.connect(lambda text: status.showMessage(text, STATUS_MS))
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(panel.shutdown)
    QTimer.singleShot(0, panel.reconcile)
    return panel


def _start_from(window: MainWindow, path: str) -> None:
    if window.start_image.set_start_image(path):
        window.tabs.setCurrentIndex(0)  # back to Create, where the start image and strength are


def _vary(window: MainWindow, request: GenerationRequest) -> None:
    """Run VARIATIONS images of `request` at once: its seed, each blended with a new variation seed."""
    window.controls.apply_request(request.replace(batch=VARIATIONS))
    window.refine.vary()
    window.tabs.setCurrentIndex(0)  # the results strip shows them side by side as they finish
    window.generate()


def _upscale(window: MainWindow, gallery: Gallery, path: str) -> None:
    from studio.ui.upscale_dialog import open_upscale_dialog  # loaded on first use

    window.upscale_dialog = open_upscale_dialog(window, Path(path), window.paths.models_dir,
                                                window.controller, gallery.folder)


def _on_worker_event(panel: GalleryPanel, window: MainWindow, event: JobEvent) -> None:
    match event.event:
        case Saved(path=path, metadata=metadata):
            panel.add_saved(path, metadata)
        case Noised(path=path, fraction=fraction, picture=picture):
            panel.show_noised(path, fraction, picture)
        case NoiseFailed(message=message) | UpscaleFailed(message=message):
            window.statusBar().showMessage(message, STATUS_MS)
        case Upscaled(path=path):
            window.statusBar().showMessage(f"Upscaled: saved {Path(path).name} to the gallery.", STATUS_MS)


__all__ = ["GalleryPanel", "ImageDropLoader", "install_gallery"]
