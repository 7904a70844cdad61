"""The GPU worker: one QObject on one QThread that owns the engine.

Requests arrive as queued signals; the engine's events go back as signals carrying plain
Python and numpy objects. Nothing here touches a widget, a QImage or a QPixmap.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal, Slot

from studio.engine.catalogue.checkpoints import PICKLE_SUFFIXES
from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Cancelled, Event, Failed, Finished, Outcome, Started, Step
from studio.engine.run.request import GenerationRequest

if TYPE_CHECKING:
    import numpy as np

EngineFactory = Callable[[], Any]  # returns an object with warm_up() and generate(...)
ImageSaver = Callable[[Any, GenerationRequest, list[Any]], Path]  # image, request, film


class LatestValue:
    """A one-slot mailbox between threads: a newer value replaces an unread one.

    This is how previews are throttled: however fast the worker makes them, the GUI
    thread is told once and paints only the newest.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._value: Any = None
        self._full = False

    def put(self, value: Any) -> bool:
        """Store `value`; True when the slot was empty, i.e. the reader must be told."""
        with self._lock:
            was_empty = not self._full
            self._value, self._full = value, True
            return was_empty

    def take(self) -> Any:
        with self._lock:
            value, self._value, self._full = self._value, None, False
            return value


class GenerationWorker(QObject):
    """Runs requests on its own thread.

    Signals:
        ready(str): the engine is loaded; the text names the device.
        warm_up_failed(str, str): the engine could not load (message, details).
        started(object, int): request with its seed resolved, step total.
        progress(int, int, float): step index (1-based), total, seconds elapsed.
        preview_ready(): a new preview waits in `previews` (take it on the GUI thread).
        finished(object, list, list, float): request, images as HxWx3 uint8 arrays,
            saved paths (str, or "" where saving failed), seconds.
        saved(str): one image was written to disk.
        save_failed(str): an image could not be written; the message says why.
        cancelled(object, int): request, steps done.
        failed(object, str, str): request, message for a person, details.
        pickle_refused(object, str): after `failed`: the run needs consent to open this
            pickle file (request, path); ask the person on the GUI thread.
        idle(): the current request is done, whatever its outcome.
    """

    ready = Signal(str)
    warm_up_failed = Signal(str, str)
    started = Signal(object, int)
    progress = Signal(int, int, float)
    preview_ready = Signal()
    finished = Signal(object, object, object, float)
    saved = Signal(str)
    save_failed = Signal(str)
    cancelled = Signal(object, int)
    failed = Signal(object, str, str)
    pickle_refused = Signal(object, str)
    idle = Signal()
    noised = Signal(str, float, object)
    noise_failed = Signal(str)

    def __init__(self, make_engine: EngineFactory, save_image: ImageSaver) -> None:
        super().__init__()
        self._make_engine = make_engine
        self._save_image = save_image
        self._engine: Any = None
        self._load_error: tuple[str, str] | None = None
        self.previews = LatestValue()  # (preview array, index, total)

    @Slot()
    def warm_up(self) -> None:
        """Build the engine and import torch and diffusers, on this worker's thread."""
        try:
            engine = self._make_engine()
            engine.warm_up()
        except Exception as error:
            message = f"The generation engine could not start: {type(error).__name__}: {error}"
            self._load_error = (message, traceback.format_exc())
            self.warm_up_failed.emit(*self._load_error)
            return
        self._engine = engine
        self.ready.emit(_device_text(engine))

    @Slot(str, float)
    def noise(self, path: str, fraction: float) -> None:
        """Noise a gallery image by its own model's forward process, for the viewer's slider."""
        if self._engine is None:
            self.noise_failed.emit("The engine is still loading.")
            return
        try:
            from PIL import Image

            from studio.library.metadata import read_metadata

            meta = read_metadata(Path(path))
            model = meta.request.model if meta.request is not None else ""
            try:
                self._engine.registry.resolve(model)
            except Exception:
                model = ""  # a model this machine lacks: show the default model's forward process
            with Image.open(path) as image:
                picture = self._engine.noised(image, model, fraction)
        except Exception as error:
            self.noise_failed.emit(f"The noise view could not be made: {error}")
            return
        self.noised.emit(path, fraction, picture)

    @Slot(object, object)
    def run(self, request: GenerationRequest, cancel: CancelToken) -> None:
        try:
            self._run(request, cancel)
        finally:
            self.idle.emit()

    def _run(self, request: GenerationRequest, cancel: CancelToken) -> None:
        if cancel.cancelled:
            self.cancelled.emit(request, 0)
            return
        if self._engine is None:
            message, details = self._load_error or ("The engine is not loaded.", "")
            self.failed.emit(request, message, details)
            return
        try:
            outcome: Outcome = self._engine.generate(request, self._on_event, cancel)
        except Exception as error:
            # InvalidRequest or a bug in the engine: it still ends as a failed run
            problems = getattr(error, "problems", None)
            message = " ".join(problems) if problems else f"{type(error).__name__}: {error}"
            self.failed.emit(request, message, traceback.format_exc())
            return
        match outcome:
            case Finished():
                self._deliver(outcome)
            case Cancelled(request=done, steps_done=steps):
                self.cancelled.emit(done, steps)
            case Failed(request=done, message=message, details=details):
                self.failed.emit(done, message, details)
                refused = self._refused_pickle(done)
                if refused is not None:
                    self.pickle_refused.emit(done, str(refused))

    def _refused_pickle(self, request: GenerationRequest) -> Path | None:
        """The pickle file a failed run was refused for, else None.

        The engine opens a pickle only when its consent allows the file, so a failed run on
        a pickle the consent does not allow is exactly a refusal.
        """
        registry = getattr(self._engine, "registry", None)
        if registry is None:
            return None
        try:
            path = Path(registry.resolve(request.model).path)
        except Exception:
            return None
        if path.suffix.lower() not in PICKLE_SUFFIXES or not path.is_file():
            return None
        consent = getattr(self._engine, "pickle_consent", None)
        return None if consent is not None and consent.allows(path) else path

    def _on_event(self, event: Event) -> None:
        match event:
            case Started(request=request, total=total):
                self.previews.take()  # a stale preview from an earlier run is not shown
                self.started.emit(request, total)
            case Step(index=index, total=total, elapsed=elapsed, preview=preview):
                if preview is not None and self.previews.put((preview, index, total)):
                    self.preview_ready.emit()
                self.progress.emit(index, total, elapsed)
            case _:
                pass  # the outcome is handled from generate()'s return value

    def _deliver(self, outcome: Finished) -> None:
        import numpy as np

        arrays: list[np.ndarray] = []
        paths: list[str] = []
        per_image = zip(outcome.images, outcome.request.per_image(), strict=True)
        for number, (image, request) in enumerate(per_image):
            arrays.append(np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8)))
            film = outcome.film if number == 0 else []  # the previews follow the first image
            try:
                path = str(self._save_image(image, request, film))
            except Exception as error:
                self.save_failed.emit(f"The image could not be saved: {error}")
                path = ""
            else:
                self.saved.emit(path)
            paths.append(path)
        self.finished.emit(outcome.request, arrays, paths, outcome.elapsed)


def _device_text(engine: Any) -> str:
    try:
        return str(engine.device)
    except Exception:
        return "unknown device"
