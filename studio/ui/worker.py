"""The GPU worker: one QObject on one QThread that owns the engine.

Requests arrive as queued calls; everything that happens goes back on one signal, `event`,
as typed `JobEvent`s. Steps go through a latest-wins mailbox so that a slow GUI is told once
and paints only the newest. Nothing here touches a widget, a QImage or a QPixmap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from studio.engine.errors import EngineUnavailable, describe_failure
from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Event, Failed, Finished, Outcome, Started, Step
from studio.engine.run.request import GenerationRequest
from studio.ui.events import (
    Delivered,
    EngineFailed,
    EngineReady,
    Idle,
    JobEvent,
    Noised,
    NoiseFailed,
    Saved,
    SaveFailed,
    StepsWaiting,
    UpscaleFailed,
)

log = logging.getLogger(__name__)

EngineFactory = Callable[[], Any]  # returns an object with warm_up() and generate(...)
# image, request, film -> (path, metadata of the written file)
ImageSaver = Callable[..., tuple[Path, Any]]  # also given server="..." for a server's images


class LatestValue:
    """A one-slot mailbox between threads: a newer value replaces an unread one."""

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
    """Runs jobs on its own thread.

    Signals:
        event(object): a JobEvent: the engine's Started/Finished/Cancelled/Failed, or one of
            studio.ui.events (EngineReady, EngineFailed, Saved, SaveFailed, Delivered, Noised,
            NoiseFailed, StepsWaiting, Idle). For StepsWaiting, take the newest JobEvent of a
            Step from `steps`.
    """

    event = Signal(object)

    def __init__(self, make_engine: EngineFactory, save_image: ImageSaver) -> None:
        super().__init__()
        self._make_engine = make_engine
        self._save_image = save_image
        self._engine: Any = None
        self._load_error: EngineFailed | None = None
        self.steps = LatestValue()  # the newest JobEvent(job, Step)
        self._job = 0

    def _emit(self, event: Any, job: int | None = None) -> None:
        self.event.emit(JobEvent(self._job if job is None else job, event))

    @Slot()
    def warm_up(self) -> None:
        """Build the engine and import torch and diffusers, on this worker's thread."""
        try:
            engine = self._make_engine()
            engine.warm_up()
        except Exception as error:
            log.exception("The generation engine could not start")
            message, details, _cause = describe_failure(error)
            self._load_error = EngineFailed(f"The generation engine could not start. {message}", details)
            self._emit(self._load_error, 0)
            return
        self._engine = engine
        self._emit(EngineReady(_device_text(engine)), 0)

    @Slot()
    def switch_engine(self) -> None:
        """Build the engine again from the factory (the person chose another place for runs).
        Queued behind the run in progress, so that run ends where it started."""
        self._engine = None
        self._load_error = None
        self.warm_up()

    @Slot(object)
    def prepare(self, request: GenerationRequest) -> None:
        """Do ahead what a run of `request` would do first (load the model, encode the prompt), so
        that Generate starts at its first step. Silent for the artist: whatever fails here fails
        again, and is reported, when Generate is pressed; the log keeps it."""
        prepare = getattr(self._engine, "prepare", None)
        if prepare is None:  # still loading, or an engine that has nothing to do ahead
            return
        try:
            prepare(request)
        except Exception:
            log.warning("Preparing a run ahead of Generate failed", exc_info=True)

    @Slot(str, float)
    def noise(self, path: str, fraction: float) -> None:
        """Noise a gallery image by its own model's forward process, for the viewer's slider."""
        if self._engine is None:
            self._emit(NoiseFailed("The engine is still loading."), 0)
            return
        if not _runs_here(self._engine):
            self._emit(NoiseFailed(ONLY_HERE.format(what="The noise view")), 0)
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
        except Exception:
            log.exception("The noise view failed for %s", path)
            self._emit(NoiseFailed("The noise view could not be made for this image."), 0)
            return
        self._emit(Noised(path, fraction, picture), 0)

    @Slot(str, float, str, str, object)
    def upscale(self, source: str, scale: float, upscaler: str, folder: str, cancel: CancelToken) -> None:
        """Save a copy of `source` `scale` times larger into `folder`, tile by tile with progress."""
        from studio.ui.upscale_task import run_upscale

        if self._engine is None:
            self._emit(UpscaleFailed(source, "The engine is still loading; try again in a moment."), 0)
            return
        if not _runs_here(self._engine):
            self._emit(UpscaleFailed(source, ONLY_HERE.format(what="Upscaling")), 0)
            return
        run_upscale(self._engine, source, scale, upscaler, Path(folder), cancel, lambda event: self._emit(event, 0))

    @Slot(int, object, object)
    def run(self, job: int, request: GenerationRequest, cancel: CancelToken) -> None:
        self._job = job
        try:
            self._run(request, cancel)
        except Exception as error:  # a bug in delivering: the job still ends, and says so
            log.exception("Job %d failed after its run", job)
            message, details, cause = describe_failure(error)
            self._emit(Failed(request, message, details, cause))
        finally:
            self._emit(Idle())

    def _run(self, request: GenerationRequest, cancel: CancelToken) -> None:
        if self._engine is None:
            failed = self._load_error or EngineFailed("The engine is not loaded yet.")
            self._emit(Failed(request, failed.message, failed.details, EngineUnavailable()))
            return
        try:
            outcome: Outcome = self._engine.generate(request, self._on_event, cancel)
        except Exception as error:  # InvalidRequest before the run, or a bug in the engine
            message, details, cause = describe_failure(error, request.model)
            self._emit(Failed(request, message, details, cause))
            return
        if isinstance(outcome, Finished):
            self._deliver(outcome)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Step):
            if self.steps.put(JobEvent(self._job, event)):
                self._emit(StepsWaiting())
            return
        if isinstance(event, Started):
            self.steps.take()  # a stale step of an earlier job is not shown
        self._emit(event)

    def _deliver(self, outcome: Finished) -> None:
        import numpy as np

        arrays: list[np.ndarray] = []
        paths: list[str] = []
        per_image = zip(outcome.images, outcome.request.per_image(), strict=True)
        for number, (image, request) in enumerate(per_image):
            arrays.append(np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8)))
            film = outcome.film if number == 0 else []  # the previews follow the first image
            # which server made it goes into the file; a saver for this computer needs no word of it
            where = {"server": outcome.server} if outcome.server else {}
            try:
                path, metadata = self._save_image(image, request, film, **where)
            except OSError as error:  # SaveError is one: its message is written for a person
                self._emit(SaveFailed(str(error), image, request, number))
                paths.append("")
                continue
            except Exception as error:
                log.exception("Saving image %d failed", number)
                why = f"The image could not be saved ({type(error).__name__}); it is kept in this session."
                self._emit(SaveFailed(why, image, request, number))
                paths.append("")
                continue
            self._emit(Saved(str(path), metadata, number))
            paths.append(str(path))
        self._emit(Delivered(arrays, paths, outcome.elapsed))


ONLY_HERE = "{what} runs on this computer's engine; choose Local in Settings → Engine to use it."


def _runs_here(engine: Any) -> bool:
    """Whether `engine` is this computer's (it has a model registry); a server's has none."""
    return getattr(engine, "registry", None) is not None


def _device_text(engine: Any) -> str:
    try:
        return str(engine.device)
    except Exception:
        return "unknown device"
