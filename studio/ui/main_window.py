"""The main window: parameters on the left, the live canvas in the middle, the queue on the right."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QPixmap
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.config.paths import StudioPaths
from studio.config.settings import Settings
from studio.engine.errors import InvalidParameters
from studio.engine.run.events import Cancelled, Failed, Finished, Optimizing, Started, Step
from studio.engine.run.request import GenerationRequest
from studio.ui import window_state
from studio.ui.catalogue import ModelCatalogue
from studio.ui.controller import GenerationController
from studio.ui.events import (
    Delivered,
    EngineFailed,
    EngineReady,
    Idle,
    JobEvent,
    Noised,
    Notice,
    SaveFailed,
    ServerWaiting,
)
from studio.ui.jobs import JobState
from studio.ui.mask_dialog import open_mask_dialog, paste_start_image
from studio.ui.message_banner import MessageBanner
from studio.ui.parameters import ParametersPanel
from studio.ui.preview import PreviewView
from studio.ui.queue_panel import QueuePanel
from studio.ui.refine_panel import RefinePanel
from studio.ui.results import ResultsModel, ResultsStrip, save_result_as
from studio.ui.run_controls import RunControls
from studio.ui.run_place import RunPlace
from studio.ui.run_status import RunStatus
from studio.ui.start_image import StartImagePanel
from studio.ui.theme import icon
from studio.ui.widgets import plain_label
from studio.ui.window_addons import WindowAddOns
from studio.ui.window_fit import ColumnScrollArea
from studio.ui.window_menus import build_menus

if TYPE_CHECKING:
    import numpy as np

    from studio.engine.catalogue.registry import ModelEntry

SettingsSaver = Callable[[Settings], None]


SETTINGS_DEBOUNCE_MS = 600  # the controls are written this long after the last change
PREPARE_DEBOUNCE_MS = 300  # the run is prepared (prompt encoded) this long after typing pauses


class MainWindow(QMainWindow):
    """Signals:
    result_shown(object, object): a finished request and its image paths, once on the canvas.
    picture_saved(str): a picture was saved to the gallery folder by the window itself rather
        than by a run (a grid image), so the gallery shows it at once.
    """

    result_shown = Signal(object, object)
    picture_saved = Signal(str)
    # made by build_menus
    generate_action: QAction
    cancel_action: QAction
    clear_queue_action: QAction
    random_action: QAction
    reuse_action: QAction

    def __init__(
        self,
        controller: GenerationController,
        catalogue: ModelCatalogue,
        paths: StudioPaths,
        settings: Settings,
        save_settings: SettingsSaver | None = None,
    ) -> None:
        super().__init__()
        self.controller = controller
        self.catalogue = catalogue
        catalogue.setParent(self)  # deleted with the window, on the GUI thread
        self.registry = catalogue.registry
        self.paths = paths
        self.settings = settings
        self._save_settings = save_settings
        self._frame = QSize()
        self._closed = False
        self._loading_controls = True
        self._models_scanned = catalogue.scanned
        self.setWindowTitle("Studio")
        self.resize(1280, 800)
        self._build()
        self.addons = WindowAddOns(self)  # the LoRA list, the prompt boxes' helpers, the picker
        build_menus(self)
        self._connect()
        self.parameters.set_models(catalogue.entries(), settings.last.model)
        self.parameters.load(settings.last)
        self._loading_controls = False
        self._prepare_debouncer.start()  # the restored prompt too
        window_state.restore(self, self.splitter, settings.window)
        self.run_place.local_models = catalogue.entries()
        self.run_place.refresh()  # a server is asked at once what it has
        self._update_busy()

    # -- building ----------------------------------------------------------------------

    def _build(self) -> None:
        self.parameters = ParametersPanel(self.paths.models_dir)
        self.start_image = StartImagePanel()
        self.refine = RefinePanel(self.paths.models_dir)
        self.controls = RunControls(self.parameters, self.start_image, self.refine)
        self._add_style_picker()
        column = self.controls.column()
        scroll = ColumnScrollArea()  # as wide as its controls need: it scrolls down, never sideways
        scroll.setObjectName("ParametersScroll")
        scroll.setWidget(column)
        self.generate_button = QPushButton(icon("generate", "#ffffff"), "  Generate")
        self.generate_button.setObjectName("GenerateButton")
        self.generate_button.setToolTip("Generate, or queue while a run is going (Ctrl+Enter)")
        self.cancel_button = QPushButton(icon("cancel"), " Cancel")
        self.cancel_button.setObjectName("CancelButton")
        self.cancel_button.setToolTip("Stop the current run after its step (Esc)")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(16, 10, 16, 16)
        buttons.setSpacing(8)
        buttons.addWidget(self.generate_button, 1)
        buttons.addWidget(self.cancel_button)
        left = QWidget()
        left.setObjectName("ParametersPanel")
        left.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(0)
        left_layout.addWidget(scroll, 1)
        left_layout.addLayout(buttons)

        self.view = PreviewView()
        self.banner = MessageBanner()
        self.error_banner = self.banner.label
        self.details_button = self.banner.details_button
        self.run_status = RunStatus()
        self.results_model = ResultsModel(self.controller.jobs, self)
        self.results = ResultsStrip(self.results_model)
        create = QWidget()
        create.setObjectName("Canvas")
        create.setAttribute(Qt.WidgetAttribute.WA_StyledBackground)
        center = QVBoxLayout(create)
        center.setContentsMargins(12, 12, 12, 12)
        center.setSpacing(10)
        center.addWidget(self.banner)
        center.addWidget(self.view, 1)
        center.addWidget(self.run_status)
        center.addWidget(self.results)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)
        self.tabs.addTab(create, "Create")

        self.queue_panel = QueuePanel(self.controller.jobs)
        self.queue_panel.setMinimumWidth(180)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.queue_panel)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([360, 680, 240])
        self.setCentralWidget(self.splitter)

        self.engine_label = plain_label("Loading the engine…")
        self.statusBar().addPermanentWidget(self.engine_label)
        self.run_place = RunPlace(self.engine_label, self.settings, self)
        self.statusBar().setSizeGripEnabled(False)

    def _connect(self) -> None:
        c = self.controller
        c.event.connect(self.results_model.on_event)  # first, so a delivered result is in the strip
        c.event.connect(self._on_event)
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button.clicked.connect(self.cancel)
        q = self.queue_panel
        q.remove_requested.connect(c.remove)
        q.move_requested.connect(c.move)
        q.duplicate_requested.connect(c.duplicate)
        q.retry_requested.connect(c.retry)
        q.clear_requested.connect(c.clear_queue)
        q.run_restored_requested.connect(self._on_run_restored)
        q.discard_restored_requested.connect(self._on_discard_restored)
        self.results.chosen.connect(self._on_result_chosen)
        self.results.reuse_requested.connect(self.parameters.apply_request)
        self.results.save_requested.connect(self._on_save_result_requested)
        self.catalogue.changed.connect(self._on_catalogue_changed)
        self.run_place.server_models.connect(self._on_server_models)
        # the controls are kept on disk shortly after each change, not only on a clean close
        # (a restarted single-shot timer: superqt's debouncer does the same but costs ~170 ms of
        # imports on the way to the first window)
        self._settings_debouncer = QTimer(self)
        self._settings_debouncer.setSingleShot(True)
        self._settings_debouncer.setInterval(SETTINGS_DEBOUNCE_MS)
        self._settings_debouncer.timeout.connect(self._remember)
        self.parameters.changed.connect(self._on_controls_changed)
        self.parameters.steps.valueChanged.connect(lambda steps: self.start_image.set_steps(int(steps)))
        self.start_image.set_steps(int(self.parameters.steps.value()))
        self.start_image.noise_requested.connect(c.request_noise)
        self.start_image.paint_mask_requested.connect(self._on_paint_mask)
        self.refine.changed.connect(self._on_controls_changed)
        self.refine.notice.connect(lambda text: self.statusBar().showMessage(text, 8000))
        # the prompt is encoded on the worker while the artist types, so Generate starts at step one
        self._prepare_debouncer = QTimer(self)
        self._prepare_debouncer.setSingleShot(True)
        self._prepare_debouncer.setInterval(PREPARE_DEBOUNCE_MS)
        self._prepare_debouncer.timeout.connect(self._prepare_ahead)
        self.parameters.changed.connect(self._prepare_debouncer.start)

    # -- gallery and other panels plug in here ------------------------------------------

    def add_panel(self, title: str, widget: QWidget) -> None:
        """Add a page beside "Create" in the central tabs (the tab bar shows once there are two)."""
        self.tabs.addTab(widget, title)

    def add_dock(
        self, title: str, widget: QWidget, area: Qt.DockWidgetArea = Qt.DockWidgetArea.BottomDockWidgetArea
    ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- commands ----------------------------------------------------------------------

    @Slot()
    def generate(self) -> GenerationRequest | None:
        """Submit the controls' request (queued while a run goes); None when it is invalid."""
        problems = self.controls.problems()
        if problems:
            self.statusBar().showMessage(problems[0], 8000)
            return None
        request = self.controls.submitted_request().with_seed()
        self._remember()
        if self.controller.restored:  # pressing Generate answers the offer: run what waits too
            self._on_run_restored()
        self.controller.submit(request)
        waiting = len(self.controller.queued)
        if self.controller.busy and waiting:
            self.statusBar().showMessage(f"Queued: {waiting} waiting.", 4000)
        self._update_busy()
        return request

    def open_grid_dialog(self) -> object:
        from studio.ui.grid_dialog import GridDialog  # loaded on first use

        self.grid_dialog = GridDialog(self)
        self.grid_dialog.show()
        return self.grid_dialog

    def _add_style_picker(self) -> None:
        from studio.config.styles import StyleStore
        from studio.ui.style_picker import StylePicker

        picker = StylePicker(StyleStore(self.paths.styles_file), self.parameters)
        picker.current_prompt = lambda: (self.parameters.prompt.toPlainText(), self.parameters.negative.toPlainText())
        picker.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        for problem in picker.store.problems[:1]:
            picker.message.emit(f"Some stored styles could not be read: {problem}")
        self.parameters.add_style_picker(picker)
        self.controls.styles = picker

    @Slot()
    def _on_paint_mask(self) -> None:
        self.mask_dialog = open_mask_dialog(self, self.start_image, self.paths.inputs_dir)

    @Slot()
    def paste_start_image(self) -> None:
        self.statusBar().showMessage(paste_start_image(self.start_image, self.paths.inputs_dir), 6000)

    @Slot()
    def cancel(self) -> None:
        if self.controller.cancel_current():
            self.run_status.set_state("Cancelling…")

    # -- what the worker says: one event stream --------------------------------------------

    @Slot(object)
    def _on_event(self, event: JobEvent) -> None:
        self.run_place.follow(event.event)
        match event.event:
            case EngineReady():
                if not self.controller.busy:
                    self.run_status.set_state("Ready")
            case EngineFailed(message=message, details=details):
                self.engine_label.setText("Engine not available")
                self.run_status.set_state("Cannot generate: the engine did not start")
                self.show_error(message, details)
            case Started(request=request, total=total):
                self._on_run_started(request, total)
            case Step(index=index, total=total, elapsed=elapsed, preview=preview):
                self.run_status.step(index, total, elapsed)
                if preview is not None:
                    self.view.show_array(preview, self._frame)
            case Delivered(arrays=arrays, paths=paths, elapsed=elapsed):
                self._on_delivered(event.job, arrays, paths, elapsed)
            case SaveFailed(message=message):
                self.show_error(f"{message} The image is kept: right-click it below and choose "
                                "\"Save this image as…\".")
            case Cancelled(request=request, steps_done=steps):
                self.run_status.done(f"Cancelled after {steps} of {request.steps} steps")
            case ServerWaiting(message=message):
                self.run_status.done("Waiting for the server")
                self.show_error(message)
            case Failed(message=message, details=details, cause=cause):
                self.run_status.done("Failed")
                self.show_error(message, details)
                if isinstance(cause, InvalidParameters):
                    self.parameters.mark_invalid(cause.fields)
            case Optimizing(message=message):
                self.run_status.set_state(message)
            case Notice(message=message):
                self.statusBar().showMessage(message, 10000)
            case Finished(notices=notices) if notices:
                self.statusBar().showMessage(" ".join(notices), 10000)
            case Noised(path=path, fraction=fraction, picture=picture):
                self.start_image.show_noised(path, fraction, picture)
            case Idle():
                pass
        self._update_busy()

    def _update_busy(self) -> None:
        busy = self.controller.busy
        self.cancel_button.setEnabled(busy)
        self.cancel_action.setEnabled(True)
        if not busy and self.run_status.stepping:
            self.run_status.done("Ready")

    def _on_run_started(self, request: GenerationRequest, total: int) -> None:
        self.banner.clear()
        self._frame = QSize(request.width, request.height)
        if request.seed is not None:
            self.parameters.set_seed_used(request.seed)
        self.run_status.start(total)
        self.run_status.set_state(f"Loading the model… (0/{total})")
        if self.view.pixmap() is None:
            self.view.clear("Starting…")

    def _on_delivered(self, job_id: int, images: list[np.ndarray], paths: list[str], elapsed: float) -> None:
        job = self.controller.jobs.get(job_id)
        if images:
            self.view.show_array(images[0])
        count = f"{len(images)} images" if len(images) != 1 else "1 image"
        seed = job.request.seed if job is not None else None
        self.run_status.done(f"Done: {count} in {elapsed:.1f} s · seed {seed}", complete=True)
        if job is not None:
            self.result_shown.emit(job.request, paths)

    @Slot()
    def _on_run_restored(self) -> None:
        self.controller.run_restored()
        self.queue_panel.show_restored(0, 0)
        self._update_busy()

    @Slot()
    def _on_discard_restored(self) -> None:
        self.controller.discard_restored()
        self.queue_panel.show_restored(0, len(self.controller.jobs.jobs(JobState.INTERRUPTED)))

    def offer_restored(self) -> None:
        """Show the jobs the last session left waiting, and the interrupted one, in the queue."""
        restored = len(self.controller.restored)
        interrupted = len(self.controller.jobs.jobs(JobState.INTERRUPTED))
        self.queue_panel.show_restored(restored, interrupted)

    @Slot(int)
    def _on_save_result_requested(self, row: int) -> None:
        job, number = self.results_model.job_at(row)
        unsaved = next((u for u in (job.unsaved if job else []) if u.number == number), None)
        if unsaved is None:
            return
        target, _filter = QFileDialog.getSaveFileName(self, "Save the image as", str(Path.home() / "image.png"),
                                                      "PNG images (*.png)")
        if target:
            self.save_unsaved(unsaved, Path(target))

    def save_unsaved(self, unsaved: SaveFailed, target: Path) -> Path | None:
        """Write an image that could not be saved to the gallery to `target`, metadata inside."""
        try:
            written = save_result_as(unsaved, target)
        except (OSError, ValueError) as error:
            self.show_error(f"The image could not be saved there either: {error}")
            return None
        self.statusBar().showMessage(f"Saved {written}.", 8000)
        return written

    @Slot(object, str)
    def _on_result_chosen(self, image: np.ndarray | None, path: str) -> None:
        if image is not None:
            self.view.show_array(image)
            return
        pixmap = QPixmap(path)
        if pixmap.isNull():
            self.statusBar().showMessage(f"Could not read {path}: the file is gone or damaged.", 8000)
            return
        self.view.show_pixmap(pixmap)

    def show_notice(self, message: str) -> None:
        """Tell the person once about something Studio had to do at start (plain text)."""
        self.banner.show_message(message, notice=True)
        self.statusBar().showMessage(message.splitlines()[0] if message else "", 8000)

    def show_error(self, message: str, details: str = "") -> None:
        """Show a message a person can act on above the canvas (plain text)."""
        self.banner.show_message(message, details)
        self.statusBar().showMessage(message.splitlines()[0] if message else "", 8000)

    def gallery_dir(self) -> Path:
        return Path(self.settings.gallery_dir) if self.settings.gallery_dir else self.paths.gallery_dir

    @Slot()
    def rescan_models(self) -> None:
        """Look for models again, off the GUI thread; the picker follows when the scan is done."""
        self.statusBar().showMessage("Looking for models…", 3000)
        self.catalogue.refresh()
        self.refine.refresh_upscalers()
        self.addons.rescan()

    @Slot(object)
    def _on_server_models(self, entries: list[ModelEntry]) -> None:
        """Runs go to a server: the picker lists what it has."""
        current = self.parameters.current_model()
        ids = [entry.id for entry in entries]
        wanted = current.id if current is not None and current.id in ids else self.settings.last.model
        self._models_scanned = True
        self._loading_controls = True
        self.parameters.set_models(entries, wanted)
        self._loading_controls = False
        self.controller.resume_waiting()  # the server answers: a waiting queue goes on

    @Slot()
    def _on_catalogue_changed(self) -> None:
        self.run_place.local_models = self.catalogue.entries()
        if self.run_place.connected:
            return  # the picker lists the server's models
        current = self.parameters.current_model()
        # until the first full scan only the built-in models show: keep asking for the last one used
        first = not self._models_scanned
        wanted = self.settings.last.model if first else (current.id if current else "")
        self._models_scanned = True
        self._loading_controls = True
        held = self.parameters.dump()  # what the controls show now, typed text included
        self.parameters.set_models(self.catalogue.entries(), wanted)
        chosen = self.parameters.current_model()
        if first and chosen is not None and chosen.id == wanted and (current is None or current.id != wanted):
            # the last model is listed now: keep the controls as they were, not that model's defaults
            held.model = wanted
            self.parameters.load(held)
        self._loading_controls = False

    @Slot()
    def _prepare_ahead(self) -> None:
        if self._closed or self.controls.problems():
            return
        self.controller.prepare(self.controls.request())

    # -- persistence -------------------------------------------------------------------

    @Slot()
    def _on_controls_changed(self) -> None:
        if not self._loading_controls and not self._closed:
            self._settings_debouncer.start()  # restarts: written once the changes pause

    @Slot()
    def _remember(self) -> None:
        last_model = self.settings.last.model
        self.settings.last = self.parameters.dump()
        if not self._models_scanned:  # the picker shows only the built-in models yet
            self.settings.last.model = last_model
        self.settings.window = window_state.capture(self, self.splitter)
        if self._save_settings is not None:
            try:
                self._save_settings(self.settings)
            except OSError as error:  # SaveError says why in words
                self.statusBar().showMessage(f"Could not save settings: {error}", 8000)

    def save_state(self) -> None:
        """Write the controls and the window's geometry now (a logout may not close the window)."""
        if not self._closed:
            self._remember()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closed:
            self._closed = True
            self._settings_debouncer.stop()
            self._prepare_debouncer.stop()
            self.catalogue.close()  # joins a scan, which would otherwise signal a deleted object
            self.addons.close()
            self.run_place.close()
            self._remember()
            self.run_status.set_state("Stopping…")
            self.controller.shutdown()
        event.accept()

