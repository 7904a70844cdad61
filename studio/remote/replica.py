"""One engine replica of `studio serve`: a Ray Serve deployment that owns one `Engine` (one GPU)
and runs one request at a time, streaming its events as wire-ready pieces.

The ingress talks to replicas through Ray's own handles; what a replica yields is plain dicts
of JSON values and encoded bytes, which the ingress turns into frames unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from studio import __version__
from studio.config.paths import StudioPaths
from studio.engine.errors import InvalidParameters, ModelProblem, describe_failure
from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Cancelled, Event, Failed, Finished, Started, Step
from studio.remote import protocol

OUTCOMES = ("finished", "cancelled", "failed")


def paths_to_json(paths: StudioPaths) -> dict[str, str]:
    return {name: str(getattr(paths, name)) for name in ("config_dir", "data_dir", "cache_dir",
                                                         "gallery_dir", "models_dir")}


class EngineReplica:
    """Holds one Engine; `run` streams one request's pieces; `info` describes this replica."""

    def __init__(self, home: dict[str, str], models: str = "", device: str = "", threads: int = 0) -> None:
        from studio.engine.catalogue.registry import ModelRegistry
        from studio.engine.previews.previewer import PreviewSettings
        from studio.engine.run.engine import Engine

        if threads > 0:
            import torch

            # A CPU replica uses the cores Ray gave it, as many as a local run on them would:
            # a float sum split over another count of threads rounds differently.
            torch.set_num_threads(threads)
        paths = StudioPaths(**{name: Path(value) for name, value in home.items()})
        extra = (Path(models),) if models else ()
        self._registry = ModelRegistry(paths, extra)
        self._engine = Engine(self._registry, device=device or None,
                              previews=PreviewSettings(cache_dir=paths.cache_dir))
        # The engine's one thread: a run cancelled by its client may still be finishing its
        # step when the next request arrives, which then waits here rather than sharing the GPU.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-engine")
        self._thread.submit(self._engine.warm_up)

    def info(self) -> dict[str, Any]:
        """This replica's device, free memory and models, for GET /v1/info."""
        from studio.engine.loading.memory import free_memory

        device = self._engine.device
        memory = free_memory(device)
        if memory is None and hasattr(os, "sysconf"):
            try:
                pages, size = os.sysconf("SC_AVPHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
                total = os.sysconf("SC_PHYS_PAGES") * size
                memory = (int(pages * size), int(total))
            except (ValueError, OSError):
                memory = None
        models = [
            {"id": e.id, "name": e.name, "family": e.family, "description": e.description,
             "defaults": e.defaults, "bundled": e.bundled, "token_limit": e.token_limit}
            for e in self._registry.entries() if not e.problem and not e.is_pickle
        ]
        return {
            "studio": __version__, "host": socket.gethostname(), "pid": os.getpid(), "device": device,
            "free_memory": memory[0] if memory else None, "total_memory": memory[1] if memory else None,
            "models": models,
        }

    async def run(self, request_json: dict[str, Any], uploads: dict[str, bytes] | None = None,
                  names: dict[str, str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Run one single-image request, yielding its pieces up to and including its outcome.
        `uploads` are the start image's and mask's bytes (checked by the ingress), `names` their
        file names. When the caller cancels (its client pressed Cancel or went away), the
        engine stops at its next step."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        cancel = CancelToken()

        def on_event(event: Event) -> None:
            piece = dict(event) if isinstance(event, dict) else _piece(event)  # encoded on the engine's thread
            piece["pid"] = os.getpid()
            loop.call_soon_threadsafe(pieces.put_nowait, piece)

        loop.run_in_executor(self._thread, self._generate, request_json, uploads or {}, names or {}, on_event,
                             cancel)
        ended = False
        try:
            while not ended:
                piece = await pieces.get()
                ended = piece["type"] in OUTCOMES
                yield piece
        finally:
            if not ended:
                cancel.cancel()

    def _generate(self, request_json: dict[str, Any], uploads: dict[str, bytes], names: dict[str, str],
                  on_event: Any, cancel: CancelToken) -> None:
        request = None
        try:
            request = protocol.request_from_json(request_json)
            problem = self._model_problem(request.model)
            if problem:
                on_event(Failed(request, problem, "", ModelProblem(request.model)))
                return
            with tempfile.TemporaryDirectory(prefix="upload-", dir=self._uploads_dir()) as folder:
                local = self._with_uploads(request, uploads, names, Path(folder))
                self._engine.generate(local, _as_sent(on_event, request), cancel)
        except protocol.ProtocolError as error:
            on_event(_failed_piece(str(error), InvalidParameters()))
        except Exception as error:  # InvalidRequest before the run, or a bug: the client is told
            message, details, cause = describe_failure(error, request.model if request else "")
            if request is None:
                on_event(_failed_piece(message, cause))
            else:
                on_event(Failed(request, message, details, cause))

    def _uploads_dir(self) -> Path:
        folder = self._registry.paths.cache_dir / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @staticmethod
    def _with_uploads(request: Any, uploads: dict[str, bytes], names: dict[str, str], folder: Path) -> Any:
        """`request` with its start image and mask pointing at the uploaded bytes, written under
        `folder` (one sub-folder per field, so a mask and a start image of one name do not
        meet). A picture named but not uploaded is refused: a client never names a path here."""
        changes: dict[str, str] = {}
        for field in protocol.UPLOAD_FIELDS:
            if not getattr(request, field):
                continue
            if field not in uploads:
                raise protocol.ProtocolError(f"The request names a {field.replace('_', ' ')} without its bytes.")
            place = folder / field / protocol.safe_name(names.get(field), field)
            place.parent.mkdir()
            place.write_bytes(uploads[field])
            changes[field] = str(place)
        return request.replace(**changes) if changes else request

    def _model_problem(self, model: str) -> str:
        """Why this server will not run `model`: only the models it lists run, never a path
        a client names (which could point anywhere on this machine)."""
        if not model:
            return ""
        for entry in self._registry.snapshot() or self._registry.entries():
            if model in (entry.id, entry.name):
                return ""
        if any(model in (e.id, e.name) for e in self._registry.entries()):
            return ""
        return f"This server has no model {model!r}. Choose one of the models it lists."


def _as_sent(on_event: Any, sent: Any) -> Any:
    """`on_event` with the request in Started, Finished, Cancelled and Failed set back to the
    pictures' names as the client sent them: the server's temporary paths stay here."""
    def relay(event: Event) -> None:
        request = getattr(event, "request", None)
        if request is not None and any(getattr(request, f) for f in protocol.UPLOAD_FIELDS):
            names = {f: getattr(sent, f) for f in protocol.UPLOAD_FIELDS}
            event = dataclasses.replace(event, request=request.replace(**names))  # type: ignore[type-var]
        on_event(event)

    return relay


def _failed_piece(message: str, cause: Any) -> dict[str, Any]:
    """A failure before there was a request to put in an event."""
    return {"type": "failed", "message": message, "details": "", "cause": protocol.cause_to_json(cause)}


def _piece(event: Event) -> dict[str, Any]:
    match event:
        case Started(request=request, total=total):
            return {"type": "started", "request": request.to_dict(), "total": total}
        case Step(index=index, total=total, elapsed=elapsed, preview=preview, preview_seconds=cost):
            header, payload = protocol.encode_preview(preview)
            return {"type": "step", "index": index, "total": total, "elapsed": elapsed,
                    "preview_seconds": cost, "header": header, "payload": payload}
        case Finished(request=request, images=images, elapsed=elapsed, film=film, notices=notices):
            return {"type": "finished", "request": request.to_dict(), "elapsed": elapsed,
                    "notices": list(notices), "images": [protocol.encode_png(i) for i in images],
                    "film": [protocol.encode_film_frame(f) for f in film]}
        case Cancelled(steps_done=steps):
            return {"type": "cancelled", "steps_done": steps}
        case Failed(message=message, details=details, cause=cause):
            return {"type": "failed", "message": message, "details": details,
                    "cause": protocol.cause_to_json(cause)}
    raise TypeError(f"Not an engine event: {event!r}")
