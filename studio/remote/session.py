"""One run on one websocket, on the server's ingress: read and bound the request, split a batch
into single-image runs on the replicas, relay their pieces in order, and cancel on request.

Previews are latest-wins: a step frame not yet sent when the next one comes is replaced, so a
slow network sees fewer previews, never an ever longer queue of stale ones.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from studio.engine.errors import InvalidParameters, ServerUnavailable, Unexpected
from studio.engine.run.request import BATCH_RANGE, SIZE_RANGE, STEPS_RANGE, GenerationRequest
from studio.remote import protocol

FIRST_MESSAGE_SECONDS = 30.0  # an accepted socket that says nothing is closed, not kept
UPLOAD_SECONDS = 120.0  # for each upload frame: a slow line sending 15 MB still makes it


@dataclass(frozen=True)
class ServerLimits:
    """What one request may ask of this server, on top of the request's own bounds."""

    max_steps: int = STEPS_RANGE[1]
    max_side: int = SIZE_RANGE[1]
    max_batch: int = BATCH_RANGE[1]
    max_upload_bytes: int = protocol.MAX_UPLOAD_BYTES  # one start image or mask, as sent
    max_upload_pixels: int = protocol.MAX_UPLOAD_PIXELS

    def problems(self, request: GenerationRequest) -> list[str]:
        found = request.problems()
        if found:
            return found
        if request.steps > self.max_steps or request.hires_steps > self.max_steps:
            found.append(f"This server runs at most {self.max_steps} steps.")
        if max(request.width, request.height) * max(1.0, float(request.hires_scale)) > self.max_side:
            found.append(f"This server makes images of at most {self.max_side} pixels on a side.")
        if request.batch > self.max_batch:
            found.append(f"This server makes at most {self.max_batch} images at once.")
        return found


class Outbox:
    """What is to be sent, in order; a step frame waiting behind nothing newer is replaced by
    the next step frame (latest wins)."""

    def __init__(self) -> None:
        self._items: collections.deque[tuple[str | bytes | None, bool]] = collections.deque()
        self._ready = asyncio.Event()
        self.dropped = 0

    def put(self, item: str | bytes | None, *, droppable: bool = False) -> None:
        """Queue `item` (None: close after what is queued)."""
        if droppable and self._items and self._items[-1][1]:
            self._items[-1] = (item, True)
            self.dropped += 1
        else:
            self._items.append((item, droppable))
        self._ready.set()

    async def get(self) -> str | bytes | None:
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()[0]


class RunSession:
    """Serves one accepted websocket: one run, then the socket closes."""

    def __init__(self, socket: Any, replicas: Any, limits: ServerLimits) -> None:
        self._socket = socket
        self._replicas = replicas
        self._limits = limits
        self._outbox = Outbox()
        self._streams: dict[int, Any] = {}
        self._cancelled = False
        self._gone = False
        self._uploads: dict[str, bytes] = {}
        self._names: dict[str, str] = {}

    async def serve(self) -> None:
        sender = asyncio.create_task(self._send_all())
        try:
            request = await self._read_request()
            if request is not None:
                await self._run(request)
        finally:
            self._outbox.put(None)
            await sender

    async def _read_request(self) -> GenerationRequest | None:
        received = await self._receive(FIRST_MESSAGE_SECONDS)
        text = received.get("text") if received.get("type") == "websocket.receive" else None
        if text is None:
            self._gone = received.get("type") == "websocket.disconnect"
            quiet = received.get("type") == "websocket.timeout"
            self._fail(f"No run arrived within {FIRST_MESSAGE_SECONDS:g} seconds." if quiet
                       else "The first message must be the run, as JSON text.", InvalidParameters())
            return None
        try:
            data = protocol.read_message(text)
            version = protocol.version_problem(data)
            if version:
                self._fail(version, ServerUnavailable(reason="version"))
                return None
            if data["type"] != "run":
                raise protocol.ProtocolError(f"The first message must be a run, not {data['type']!r}.")
            request = protocol.request_from_json(data.get("request"))
        except protocol.ProtocolError as error:
            self._fail(str(error), InvalidParameters())
            return None
        problems = self._limits.problems(request)
        if problems:
            self._fail(" ".join(problems), InvalidParameters(tuple(p.field for p in request.field_problems())))
            return None
        uploads = await self._read_uploads(request, data.get("uploads", []))
        if uploads is None:
            return None
        self._uploads = uploads
        return request.with_seed()

    async def _read_uploads(self, request: GenerationRequest, announced: object) -> dict[str, bytes] | None:
        """The pictures the request names, as the frames after the run bring them: exactly one
        for each of its non-empty start_image and mask, checked before any replica sees them.
        A request that names a picture without sending it is refused: the server never reads
        a path a client gives it."""
        wanted = [f for f in protocol.UPLOAD_FIELDS if getattr(request, f)]
        if announced != wanted:
            if not isinstance(announced, list) or set(announced) - set(protocol.UPLOAD_FIELDS):
                self._fail("The run's uploads must list the picture fields it sends.", InvalidParameters())
            else:
                missing = [f.replace("_", " ") for f in wanted if f not in announced]
                self._fail(f"The request names a {' and a '.join(missing) or 'picture'} without sending "
                           "its bytes; this server reads no files from its own disk.",
                           InvalidParameters(tuple(wanted)))
            return None
        uploads: dict[str, bytes] = {}
        for field in wanted:
            label = "start image" if field == "start_image" else "mask"
            received = await self._receive(UPLOAD_SECONDS)
            data = received.get("bytes") if received.get("type") == "websocket.receive" else None
            try:
                if data is None:
                    raise protocol.ProtocolError(f"The {label}'s bytes did not follow the run.")
                kind, header, payload = protocol.read_frame(data)
                if kind != protocol.UPLOAD or header.get("field") != field:
                    raise protocol.ProtocolError(f"The {label}'s bytes did not follow the run.")
            except protocol.ProtocolError as error:
                self._gone = received.get("type") == "websocket.disconnect"
                self._fail(str(error), InvalidParameters((field,)))
                return None
            # Decoding a large picture takes a while: off the loop that serves every socket.
            problem = await asyncio.to_thread(protocol.upload_problem, payload, self._limits.max_upload_bytes,
                                              self._limits.max_upload_pixels)
            if problem:
                name = protocol.safe_name(header.get("name"), field)
                self._fail(f"The {label} {name} {problem}.", InvalidParameters((field,)))
                return None
            uploads[field] = payload
            self._names[field] = protocol.safe_name(header.get("name"), field)
        return uploads

    async def _receive(self, seconds: float) -> dict[str, Any]:
        """The next ASGI message, or a disconnect when none comes within `seconds`."""
        waiting: Awaitable[dict[str, Any]] = self._socket.receive()
        try:
            return await asyncio.wait_for(waiting, seconds)
        except TimeoutError:
            return {"type": "websocket.timeout"}

    async def _run(self, request: GenerationRequest) -> None:
        parts = request.per_image()
        per_image = request.steps_to_run + request.hires_steps_to_run
        self._steps = [0] * len(parts)
        self._done: list[dict[str, Any] | None] = [None] * len(parts)
        self._total = per_image * len(parts)
        self._started = time.perf_counter()
        self._outbox.put(protocol.message("started", request=request.to_dict(), total=self._total))
        listener = asyncio.create_task(self._listen())
        runs = [asyncio.create_task(self._run_part(i, part)) for i, part in enumerate(parts)]
        failure: dict[str, Any] | None = None
        try:
            for finished in asyncio.as_completed(runs):
                outcome = await finished
                if outcome["type"] == "failed" and failure is None:
                    failure = outcome
                    self._stop_streams()  # one image failed: the batch fails, the others stop
        finally:
            listener.cancel()
        if failure is not None and not self._cancelled:
            self._outbox.put(protocol.message("failed", message=failure["message"], details=failure.get("details", ""),
                                              cause=failure["cause"]))
        elif self._cancelled or any(d is None for d in self._done):
            self._outbox.put(protocol.message("cancelled", steps_done=sum(self._steps)))
        else:
            self._finish(request)

    async def _run_part(self, number: int, part: GenerationRequest) -> dict[str, Any]:
        """Stream one image's run from a replica; a replica that dies before its first step is
        replaced once by another."""
        from ray.exceptions import RayError
        from ray.serve.exceptions import RequestCancelledError

        for attempt in (1, 2):
            if self._cancelled:
                return {"type": "cancelled"}
            stream = self._replicas.options(stream=True).run.remote(part.to_dict(), self._uploads, self._names)
            self._streams[number] = stream
            try:
                async for piece in stream:
                    if piece["type"] == "step":
                        self._step(number, piece)
                    elif piece["type"] == "finished":
                        self._done[number] = piece
                        return dict(piece)
                    elif piece["type"] in ("failed", "cancelled"):
                        return dict(piece)
                return {"type": "cancelled"}
            except (RequestCancelledError, asyncio.CancelledError):
                return {"type": "cancelled"}
            except RayError as error:
                if self._cancelled:
                    return {"type": "cancelled"}
                if attempt == 1 and self._steps[number] == 0:
                    continue
                return {"type": "failed", "details": f"{type(error).__name__}: {error}",
                        "message": "The server's engine stopped during the run (its replica died); "
                                   "try again, and if it keeps happening, look at the server's log.",
                        "cause": protocol.cause_to_json(ServerUnavailable(reason="engine"))}
        raise AssertionError("unreachable")

    def _step(self, number: int, piece: dict[str, Any]) -> None:
        self._steps[number] = int(piece["index"])
        # Previews follow the first image still running, so they do not jump between images.
        current = next((i for i, done in enumerate(self._done) if done is None), number)
        header = piece["header"] if number == current else {"format": "none"}
        payload = piece["payload"] if number == current else b""
        header = {**header, "index": sum(self._steps), "total": self._total, "image": number,
                  "elapsed": time.perf_counter() - self._started, "preview_seconds": piece["preview_seconds"]}
        self._outbox.put(protocol.frame(protocol.STEP, header, payload), droppable=True)

    def _finish(self, request: GenerationRequest) -> None:
        done = [d for d in self._done if d is not None]
        first = protocol.request_from_json(done[0]["request"])
        used = request.replace(model=first.model, scheduler=first.scheduler)
        for number, piece in enumerate(done):
            self._outbox.put(protocol.frame(protocol.IMAGE, {"index": number}, piece["images"][0]))
        for number, data in enumerate(done[0]["film"]):  # the film follows the first image
            self._outbox.put(protocol.frame(protocol.FILM, {"index": number}, data))
        notices = list(dict.fromkeys(n for piece in done for n in piece["notices"]))
        self._outbox.put(protocol.message("finished", request=used.to_dict(), images=len(done),
                                          film=len(done[0]["film"]), notices=notices,
                                          elapsed=time.perf_counter() - self._started,
                                          replicas=sorted({piece.get("pid", 0) for piece in done})))

    async def _listen(self) -> None:
        """Cancel arrives on the same connection; a client that goes away cancels too."""
        while True:
            received = await self._socket.receive()
            if received.get("type") == "websocket.disconnect":
                self._gone = True
                self._cancel_all()
                return
            text = received.get("text")
            try:
                data = protocol.read_message(text) if text is not None else {}
            except protocol.ProtocolError:
                continue
            if data.get("type") == "cancel":
                self._cancel_all()

    def _cancel_all(self) -> None:
        self._cancelled = True
        self._stop_streams()

    def _stop_streams(self) -> None:
        for stream in self._streams.values():
            stream.cancel()

    def _fail(self, message: str, cause: Any) -> None:
        self._outbox.put(protocol.message("failed", message=message, details="",
                                          cause=protocol.cause_to_json(cause or Unexpected())))

    async def _send_all(self) -> None:
        from starlette.websockets import WebSocketDisconnect

        while True:
            item = await self._outbox.get()
            if self._gone:
                if item is None:
                    return
                continue
            try:
                if item is None:
                    await self._socket.close()
                    return
                if isinstance(item, bytes):
                    await self._socket.send_bytes(item)
                else:
                    await self._socket.send_text(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self._gone = True
                self._cancel_all()
