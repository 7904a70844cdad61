"""`RemoteEngine`: a `studio serve` server behind the local engine's contract.

`generate(request, on_event, cancel) -> Outcome` emits the same Started, Step and outcome
events as `Engine`, so the desktop's worker and the command line use either without knowing.
What goes wrong on the way (no server, a wrong token, another protocol version, a connection
lost mid-run, a replica that died) becomes a Failed event with a sentence a person can act on.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from studio.engine.errors import ServerUnavailable, describe_failure
from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Cancelled, EventSink, Failed, Finished, Outcome, Started, Step
from studio.engine.run.request import GenerationRequest, check
from studio.remote import protocol

OPEN_TIMEOUT = 10.0
POLL_SECONDS = 0.05  # how often a waiting run looks at its cancel token


class RemoteError(Exception):
    """The server could not be used; the message says why, `reason` as ServerUnavailable's."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class RemoteEngine:
    """Runs requests on the server at `url` (http://host:port) with `token`."""

    def __init__(self, url: str, token: str, *, open_timeout: float = OPEN_TIMEOUT) -> None:
        self.url = normalise_url(url)
        self.token = token
        self.open_timeout = open_timeout
        self.last_info: dict[str, Any] | None = None

    @property
    def device(self) -> str:
        where = urllib.parse.urlsplit(self.url).netloc
        device = (self.last_info or {}).get("device")
        return f"{device} on {where}" if device else where

    def warm_up(self) -> None:
        """Ask the server what it has; a server that is down now is told to the run, not here."""
        try:
            self.info()
        except RemoteError:
            pass

    def info(self) -> dict[str, Any]:
        """GET /v1/info: the server's models, devices, version and free memory."""
        call = urllib.request.Request(f"{self.url}/v1/info", headers=self._headers())
        try:
            # No proxies: as for the websocket, the address is the server's or a tunnel's.
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(call, timeout=self.open_timeout) as answer:
                body = answer.read(protocol.MAX_MESSAGE_BYTES * 16)
        except urllib.error.HTTPError as error:
            error.close()
            raise self._status_error(error.code) from None
        except (OSError, ValueError) as error:
            raise RemoteError(self._unreachable(error), "unreachable") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise RemoteError(f"{self.url} answered, but not as a Studio server does.", "unreachable") from None
        if not isinstance(data, dict):
            raise RemoteError(f"{self.url} answered, but not as a Studio server does.", "unreachable")
        version = protocol.version_problem(data)
        if version:
            raise RemoteError(version, "version")
        self.last_info = data
        return data

    def generate(self, request: GenerationRequest, on_event: EventSink, cancel: CancelToken | None = None) -> Outcome:
        """Run `request` on the server, emitting its events here. An invalid request raises
        InvalidRequest before anything is sent, as the local engine does."""
        request = check(request).with_seed()
        cancel = cancel or CancelToken()
        try:
            outcome = self._generate(request, on_event, cancel)
        except RemoteError as error:
            outcome = Failed(request, str(error), "", ServerUnavailable(self.url, error.reason))
        except Exception as error:  # a bug here: the job still ends, in words
            message, details, cause = describe_failure(error, request.model)
            outcome = Failed(request, message, details, cause)
        on_event(outcome)
        return outcome

    def _generate(self, request: GenerationRequest, on_event: EventSink, cancel: CancelToken) -> Outcome:
        from websockets.exceptions import ConnectionClosed

        # The pictures travel as bytes; the server sees their names, never this computer's paths.
        uploads = protocol.uploads_for(request, self._upload_limit())
        sent = request.replace(**{u.field: u.name for u in uploads})
        with self._connect() as socket:
            socket.send(protocol.message("run", request=protocol.request_to_json(sent),
                                         uploads=[u.field for u in uploads]))
            for upload in uploads:
                socket.send(protocol.upload_frame(upload))
            run = _Run(request, self.url, on_event)
            asked_to_stop = False
            while True:
                if cancel.cancelled and not asked_to_stop:
                    asked_to_stop = True
                    try:
                        socket.send(protocol.message("cancel"))
                    except ConnectionClosed:
                        return Cancelled(request, run.steps_done)
                try:
                    data = socket.recv(timeout=POLL_SECONDS)
                except TimeoutError:
                    continue
                except ConnectionClosed as closed:
                    if asked_to_stop:
                        return Cancelled(request, run.steps_done)
                    why = f" ({closed.rcvd.reason})" if closed.rcvd and closed.rcvd.reason else ""
                    raise RemoteError(f"The connection to {self.url} was lost during the run{why}; "
                                      "the next job connects again.", "lost") from None
                try:
                    outcome = run.take(data)
                except protocol.ProtocolError as error:
                    reason = "version" if "protocol version" in str(error) else "lost"
                    raise RemoteError(f"{self.url} sent what Studio cannot read: {error}", reason) from None
                if outcome is not None:
                    return outcome

    def _upload_limit(self) -> int:
        """The most bytes the server takes for one picture, as its info said (else the protocol's)."""
        limits = (self.last_info or {}).get("limits")
        given = limits.get("max_upload_bytes") if isinstance(limits, dict) else None
        return given if isinstance(given, int) and 0 < given <= protocol.MAX_UPLOAD_BYTES else protocol.MAX_UPLOAD_BYTES

    def _connect(self) -> Any:
        from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        address = "ws" + self.url[len("http"):] + "/v1/run"
        try:
            return connect(address, additional_headers=self._headers(), open_timeout=self.open_timeout,
                           max_size=protocol.MAX_FRAME_BYTES, close_timeout=2, proxy=None)
        except InvalidStatus as error:
            raise self._status_error(error.response.status_code) from None
        except InvalidURI:
            raise RemoteError(f"{self.url} is not a server address; use http://HOST:PORT.", "unreachable") from None
        except (OSError, TimeoutError, InvalidHandshake) as error:
            raise RemoteError(self._unreachable(error), "unreachable") from None

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _status_error(self, status: int) -> RemoteError:
        if status == 401:
            return RemoteError(f"The server at {self.url} refused the token. Copy the token that "
                               "`studio serve` printed (or its token file) into Studio.", "token")
        return RemoteError(f"The server at {self.url} answered HTTP {status}; is it a Studio server "
                           "(`studio serve`)?", "unreachable")

    def _unreachable(self, error: BaseException) -> str:
        why = getattr(error, "reason", None) or error
        if isinstance(why, ConnectionRefusedError) or "refused" in str(why).lower():
            detail = "the connection was refused"
        elif isinstance(why, TimeoutError) or "timed out" in str(why).lower():
            detail = "it did not answer in time"
        else:
            detail = str(why) or type(why).__name__
        return (f"Studio could not reach the server at {self.url}: {detail}. Is `studio serve` running "
                "there, and is the address right (for a server on another machine, an SSH tunnel)?")


class _Run:
    """What has arrived of one run; `take` turns each message into events and the outcome."""

    def __init__(self, request: GenerationRequest, server: str, on_event: EventSink) -> None:
        self.request = request
        self.server = server
        self.on_event = on_event
        self.steps_done = 0
        self.images: dict[int, Any] = {}
        self.film: dict[int, Any] = {}
        self.started = time.perf_counter()

    def take(self, data: str | bytes) -> Outcome | None:
        if isinstance(data, bytes):
            self._frame(data)
            return None
        message = protocol.read_message(data)
        version = protocol.version_problem(message)
        if version:
            raise protocol.ProtocolError(version)
        match message["type"]:
            case "started":
                total = message.get("total")
                if not isinstance(total, int):
                    raise protocol.ProtocolError("The start of the run did not say how many steps.")
                self.on_event(Started(self.request, total))
            case "finished":
                return self._finished(message)
            case "cancelled":
                steps = message.get("steps_done")
                return Cancelled(self.request, steps if isinstance(steps, int) else self.steps_done)
            case "failed":
                text = message.get("message")
                details = message.get("details")
                return Failed(self.request, text if isinstance(text, str) else "The server's run failed.",
                              details if isinstance(details, str) else "",
                              protocol.cause_from_json(message.get("cause")))
        return None

    def _frame(self, data: bytes) -> None:
        kind, header, payload = protocol.read_frame(data)
        if kind == protocol.STEP:
            index, total = header.get("index"), header.get("total")
            if not isinstance(index, int) or not isinstance(total, int):
                raise protocol.ProtocolError("A step frame did not say which step it is.")
            self.steps_done = index
            preview = protocol.decode_preview(header, payload)
            self.on_event(Step(index, total, float(header.get("elapsed", 0.0)), preview,
                               float(header.get("preview_seconds", 0.0))))
        elif kind in (protocol.IMAGE, protocol.FILM):
            index = header.get("index")
            if not isinstance(index, int) or not 0 <= index <= 10_000:
                raise protocol.ProtocolError("An image frame did not say which image it is.")
            image = protocol.decode_image(payload)
            if kind == protocol.IMAGE:
                self.images[index] = image
            else:
                import numpy as np

                self.film[index] = np.asarray(image.convert("RGB"), dtype=np.uint8)

    def _finished(self, message: dict[str, Any]) -> Finished:
        count, frames = message.get("images"), message.get("film", 0)
        if not isinstance(count, int) or sorted(self.images) != list(range(count)):
            raise protocol.ProtocolError("The run finished without all of its images.")
        if not isinstance(frames, int) or sorted(self.film) != list(range(frames)):
            raise protocol.ProtocolError("The run finished without all of its film.")
        # The server knew the pictures by name only: the metadata names the files on this computer.
        used = protocol.request_from_json(message.get("request")).replace(
            **{f: getattr(self.request, f) for f in protocol.UPLOAD_FIELDS})
        notices = message.get("notices")
        elapsed = message.get("elapsed")
        return Finished(
            used, [self.images[i] for i in range(count)],
            float(elapsed) if isinstance(elapsed, int | float) else time.perf_counter() - self.started,
            [self.film[i] for i in range(frames)],
            tuple(n for n in notices if isinstance(n, str)) if isinstance(notices, list) else (),
            server=self.server,
        )


def normalise_url(url: str) -> str:
    """`host:port`, `http://host:port/` and the like as http(s)://host:port, no trailing slash."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    return text.rstrip("/")
