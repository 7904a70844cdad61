"""Wiring: builds the objects, hands them to each other, and runs the Qt application.

Nothing here imports torch: the engine loads it on the worker thread after the window shows.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from studio.config.paths import StudioPaths
from studio.config.settings import Settings, load_settings, save_settings
from studio.engine.catalogue.registry import ModelRegistry
from studio.engine.run.request import GenerationRequest

log = logging.getLogger("studio")

SCREENSHOT_TIMEOUT_S = 600


def make_engine(registry: ModelRegistry, settings: Settings | None = None) -> Any:
    """Build the engine; called on the worker thread, so torch loads there.

    The engine shares the registry's pickle consent, which is kept in the config folder:
    what the person allowed survives a restart, and the models page sees the same store.
    """
    from studio.engine.previews.previewer import PreviewSettings
    from studio.engine.run.engine import Engine

    chosen = settings.preview if settings is not None else None
    previews = PreviewSettings(
        decoder=chosen.decoder if chosen else "auto",  # type: ignore[arg-type]
        every=chosen.every if chosen else 1,
        enabled=chosen.enabled if chosen else True,
        cache_dir=registry.paths.cache_dir,
    )
    from studio.engine.loras.finder import LibraryFinder
    from studio.engine.loras.library import AddOnLibrary

    addons = LibraryFinder(AddOnLibrary.for_studio(registry.paths, settings))
    engine = Engine(registry, previews=previews, pickle_consent=registry.pickle_consent, addons=addons)
    if settings is not None:
        from studio.engine.loading.fast_path import FastPath, FastPathOptions

        options = FastPathOptions(cache_dir=registry.paths.cache_dir)
        engine.fast_path = FastPath(ChosenFastModels(settings), options)
    return engine


class ChosenFastModels:
    """The models the settings put on the fast path, read when asked, so the window's toggle
    reaches an engine that already runs (the list is replaced whole, never edited in place)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def __contains__(self, model: object) -> bool:
        return model in self._settings.fast_path_models

    def __iter__(self) -> Any:
        return iter(list(self._settings.fast_path_models))

    def __len__(self) -> int:
        return len(self._settings.fast_path_models)


class EngineChoice:
    """The worker's engine factory: the engine `settings.engine` names at the time of the call.

    This computer's engine is built once and kept, so switching to a server and back does not
    load its models again; a server's is a RemoteEngine (cheap: it connects per run). Called
    on the worker thread only."""

    def __init__(self, make_local: Callable[[], Any], settings: Settings) -> None:
        self._make_local = make_local
        self._settings = settings
        self._local: Any = None

    def __call__(self) -> Any:
        chosen = self._settings.engine
        if chosen.remote:
            from studio.remote.client import RemoteEngine

            return RemoteEngine(chosen.server_url, chosen.token)
        if self._local is None:
            self._local = self._make_local()
        return self._local


def save_to_gallery(
    gallery_dir: Path, image: Any, request: GenerationRequest, film: list[Any], *, server: str = ""
) -> tuple[Path, Any]:
    """Save into the gallery; returns the file and the metadata it carries (what the index
    would read back from it), so the gallery need not open the file again. `server` names
    the `studio serve` server that made the image ("" for this computer)."""
    from studio.library.film import film_chunk
    from studio.library.metadata.studio_chunk import parse_studio, studio_json
    from studio.library.store import APP_VERSION, save_image

    path = save_image(image, request, gallery_dir, extra_chunks=film_chunk(film) if film else None, server=server)
    created = path.stat().st_mtime
    return path, parse_studio(studio_json(request, app=APP_VERSION, created=created, server=server))


@dataclass
class Studio:
    """The wired-up application objects."""

    app: Any  # QApplication
    window: Any  # MainWindow
    controller: Any  # GenerationController
    settings: Settings
    paths: StudioPaths
    notes: list[str]  # what could not be read at start, told to the person once


def build(
    paths: StudioPaths | None = None,
    *,
    persist: bool = True,
    engine_factory: Callable[[ModelRegistry], Any] = make_engine,
) -> Studio:
    """The QApplication (reused if one exists), the controller and the main window."""
    from PySide6.QtWidgets import QApplication

    from studio.library.pillow import configure_pillow
    from studio.ui.catalogue import ModelCatalogue
    from studio.ui.controller import GenerationController
    from studio.ui.main_window import MainWindow
    from studio.ui.pickle_consent import PickleConsentFlow
    from studio.ui.theme import apply_theme

    configure_pillow()  # before any thread opens an image
    paths = paths or StudioPaths.default()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    apply_theme(app)
    loaded = load_settings(paths.settings_file)
    notes = list(loaded.notes)
    settings = loaded.settings
    registry = ModelRegistry(paths)
    catalogue = ModelCatalogue(registry)
    gallery = Path(settings.gallery_dir) if settings.gallery_dir else paths.gallery_dir
    if engine_factory is make_engine:
        engine_factory = partial(make_engine, settings=settings)
    controller = GenerationController(
        EngineChoice(partial(engine_factory, registry), settings),
        partial(save_to_gallery, gallery),
        queue_file=paths.queue_file if persist else None,
    )
    notes += controller.restore()
    app.aboutToQuit.connect(controller.shutdown)
    app.aboutToQuit.connect(catalogue.close)
    saver = partial(_save, paths.settings_file) if persist else None
    window = MainWindow(controller, catalogue, paths, settings, saver)
    window.offer_restored()
    # a run refused for a pickle file asks the person, over the window, and runs again if allowed
    PickleConsentFlow(controller, registry.pickle_consent, window)
    for note in notes:
        log.warning("%s", note)
    if notes:
        window.show_notice(" ".join(notes))
    catalogue.refresh()  # the full model list arrives from a background scan
    return Studio(app, window, controller, settings, paths, notes)


def install_gallery(studio: Studio) -> Any:
    """Add the gallery tab; called once the window shows, since opening the index costs time.
    A gallery that cannot open is reported in the window; generating still works."""
    from studio.library.gallery import Gallery
    from studio.ui.gallery import install_gallery as install

    folder = Path(studio.settings.gallery_dir) if studio.settings.gallery_dir else studio.paths.gallery_dir
    try:
        gallery = Gallery(folder, studio.paths.index_file, studio.paths.thumbnail_dir)
        panel = install(studio.window, gallery)
    except Exception:
        log.exception("The gallery could not open")
        studio.window.show_error(
            "The gallery could not open; generating still works and images are still saved. "
            f"Check that {folder} and {studio.paths.data_dir} can be written."
        )
        return None
    for note in gallery.notes:
        log.warning("%s", note)
    if gallery.notes:
        studio.window.show_notice(" ".join(gallery.notes))
    studio.app.aboutToQuit.connect(gallery.close)
    return panel


def _save(path: Path, settings: Settings) -> None:
    save_settings(settings, path)


def desktop_problem() -> str | None:
    """Why no window can open here (no screen, a system library missing), or None.
    Checked before PySide6 loads: Qt would abort the process instead of saying so."""
    from studio import desktop_check

    return desktop_check.check().problem


def run_app(paths: StudioPaths | None = None) -> int:
    """Open the main window and run until it closes, or until SIGTERM or a logout ends it."""
    problem = desktop_problem()
    if problem:
        print(f"studio: {problem}", file=sys.stderr)
        return 1
    from PySide6.QtCore import QTimer

    from studio.ui.errors import ErrorReporter
    from studio.ui.session_end import SessionEnd

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    studio = build(paths)
    reporter = ErrorReporter(studio.window)
    reporter.install()
    session = SessionEnd(studio.app, studio.window.save_state, studio.window.close)
    session.install()
    studio.window.show()
    # the worker thread (and torch) starts once the window is on screen, then the gallery opens
    QTimer.singleShot(0, studio.controller.start)
    QTimer.singleShot(0, partial(install_gallery, studio))
    try:
        return int(studio.app.exec())
    finally:
        studio.controller.shutdown()
        session.uninstall()
        reporter.uninstall()


def screenshot(
    out: str | Path,
    prompt: str | None = None,
    seed: int | None = None,
    *,
    paths: StudioPaths | None = None,
    model: str = "",
    engine_factory: Callable[[ModelRegistry], Any] = make_engine,
) -> int:
    """Generate one image on the default model and save a PNG of the window once it shows."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    problem = desktop_problem()
    if problem:
        print(f"studio: {problem}", file=sys.stderr)
        return 1
    from PySide6.QtCore import QTimer

    studio = build(paths, persist=False, engine_factory=engine_factory)
    window, controller = studio.window, studio.controller
    panel = window.parameters
    if model:
        wait_for_catalogue(studio)
    panel.select_model(model)
    panel.prompt.setPlainText(prompt if prompt is not None else "a red circle on a blue background")
    panel.random_button.setChecked(seed is None)
    if seed is not None:
        panel.seed_box.setValue(seed)
    result = {"code": 1}
    out_path = Path(out)

    def on_shown(_request: object, _paths: object) -> None:
        window.results.setCurrentRow(0)
        QTimer.singleShot(50, grab)

    def grab() -> None:
        studio.app.processEvents()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(out_path), "PNG")
        result["code"] = 0 if ok else 1
        if not ok:
            print(f"Could not write {out_path}", file=sys.stderr)
        window.close()

    def on_event(job_event: Any) -> None:
        from studio.engine.run.events import Cancelled, Failed
        from studio.ui.events import EngineFailed

        match job_event.event:
            case Failed(message=message) | EngineFailed(message=message):
                print(f"Generation failed: {message}", file=sys.stderr)
                window.close()
            case Cancelled():
                window.close()

    def timed_out() -> None:
        print(f"No image after {SCREENSHOT_TIMEOUT_S} s; giving up.", file=sys.stderr)
        window.close()

    window.result_shown.connect(on_shown)
    controller.event.connect(on_event)
    window.resize(1360, 860)
    window.show()
    problems = panel.problems()
    if problems:
        print("Cannot generate: " + " ".join(problems), file=sys.stderr)
        window.close()
        return 2
    controller.start()
    install_gallery(studio)
    window.tabs.setCurrentIndex(0)
    QTimer.singleShot(0, window.generate)
    QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, timed_out)
    studio.app.exec()
    controller.shutdown()
    return result["code"]


def wait_for_catalogue(studio: Studio, timeout_s: float = 60.0) -> bool:
    """Run the event loop until the first model scan is in (for callers that pick a model at once)."""
    import time

    deadline = time.monotonic() + timeout_s
    catalogue = studio.window.catalogue
    while not catalogue.scanned and time.monotonic() < deadline:
        studio.app.processEvents()
        time.sleep(0.005)
    return bool(catalogue.scanned)


def main(args: Any) -> int:
    """Entry from the command line: `args` has `.screenshot`, `.prompt`, `.seed` (None if unset)."""
    out = getattr(args, "screenshot", None)
    if out:
        return screenshot(out, getattr(args, "prompt", None), getattr(args, "seed", None))
    return run_app()
