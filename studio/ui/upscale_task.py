"""One upscale on the worker thread: the picture opened, enlarged tile by tile, saved beside the
gallery's images, each stage said as an event."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.engine.run.cancel import CancelToken
from studio.ui.events import Saved, Upscaled, UpscaleFailed, UpscaleProgress

log = logging.getLogger(__name__)
Emit = Callable[[UpscaleProgress | Upscaled | UpscaleFailed | Saved], None]


def run_upscale(
    engine: Any, source: str, scale: float, upscaler: str, folder: Path, cancel: CancelToken, emit: Emit,
) -> None:
    """Upscale `source`, emitting UpscaleProgress per tile as it finishes, then Saved and
    Upscaled, or UpscaleFailed with the reason in words."""
    from studio.config.atomic import SaveError
    from studio.library.upscaled import save_upscaled

    image = _enlarged(engine, source, scale, upscaler, cancel,
                      lambda done, total: emit(UpscaleProgress(source, done, total)), emit)
    if image is None:
        return
    try:
        path = save_upscaled(image, Path(source), scale, upscaler, folder)
    except SaveError as error:
        emit(UpscaleFailed(source, str(error)))
        return
    emit(Saved(str(path), None))
    emit(Upscaled(source, str(path)))


def _enlarged(
    engine: Any, source: str, scale: float, upscaler: str, cancel: CancelToken,
    on_progress: Callable[[int, int], None], emit: Emit,
) -> Any:
    """The enlarged picture, or None once the reason it could not be made is emitted."""
    from studio.engine.errors import DeviceError, ModelError
    from studio.engine.run.request import InvalidRequest
    from studio.engine.run.start_image import open_picture
    from studio.engine.upscale.tiled import UpscaleCancelled
    from studio.engine.upscale.upscale import UpscaleOutOfMemory, upscale

    name = Path(source).name
    try:
        image = open_picture(source, "upscale")
        return upscale(image, scale, upscaler, models_dir=engine.registry.paths.models_dir,
                       device=engine.device, consent=engine.pickle_consent, on_progress=on_progress, cancel=cancel)
    except UpscaleCancelled:
        emit(UpscaleFailed(source, f"The upscale of {name} was cancelled.", cancelled=True))
    except (InvalidRequest, ModelError, DeviceError, UpscaleOutOfMemory) as error:
        emit(UpscaleFailed(source, str(error)))  # PickleRefused is a ModelError that names the file
    except Exception as error:
        log.exception("Upscaling %s failed", source)
        emit(UpscaleFailed(source, f"{name} could not be upscaled ({type(error).__name__}); "
                                   "the picture itself is untouched."))
    return None
