"""Testing a server before runs go to it: what the Connect button and the status bar say.

`probe(url, token)` asks the server's info route and turns the answer, or what went wrong,
into a `ServerCheck` with a sentence for a person: connected (version, models, devices), or
refused, unauthorised, another version, unreachable. It never raises and never shows a raw
exception. Qt-free: the app calls it on a background thread.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from studio.remote.client import RemoteEngine, RemoteError, normalise_url

PROBE_TIMEOUT = 5.0  # a Connect press, or the status bar, should not wait longer for an answer


@dataclass(frozen=True)
class ServerModel:
    """A model the server lists, as much of it as the model picker needs."""

    id: str
    name: str
    family: str = "other"
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)
    bundled: bool = False
    token_limit: int | None = None


@dataclass(frozen=True)
class ServerCheck:
    """What one look at a server found. `reason` is "" when connected, else ServerUnavailable's
    reason ("unreachable", "token", "version") or "address" for a URL that is not one."""

    url: str
    reason: str
    message: str
    version: str = ""
    replicas: int = 0
    devices: tuple[str, ...] = ()
    models: tuple[ServerModel, ...] = ()

    @property
    def connected(self) -> bool:
        return not self.reason

    @property
    def where(self) -> str:
        """host:port, as the status bar shows it."""
        return urllib.parse.urlsplit(self.url).netloc or self.url


def probe(url: str, token: str, *, timeout: float = PROBE_TIMEOUT) -> ServerCheck:
    """Ask the server at `url` what it has; the answer, or why there is none, in words."""
    problem = address_problem(url)
    if problem:
        return ServerCheck(url.strip(), "address", problem)
    if not token.strip():
        return ServerCheck(normalise_url(url), "token", "Enter the server's token: `studio serve` prints it when it "
                           "starts (or read it from its token file).")
    engine = RemoteEngine(url, token.strip(), open_timeout=timeout)
    try:
        info = engine.info()
    except RemoteError as error:
        return ServerCheck(engine.url, error.reason, _refusal(engine.url, error))
    except Exception as error:  # a bug here must still leave a sentence, not a trace
        return ServerCheck(engine.url, "unreachable",
                           f"Studio could not read the answer of {engine.url} ({type(error).__name__}).")
    return connected(engine.url, info)


def connected(url: str, info: dict[str, Any]) -> ServerCheck:
    """The check for a server that answered `info`."""
    models = tuple(_models(info.get("models")))
    replicas = info.get("replicas")
    count = replicas if isinstance(replicas, int) and replicas > 0 else 1
    device = info.get("device")
    devices = tuple(str(d) for d in info.get("devices") or [device] if d)
    version = str(info.get("studio") or "")
    names = ", ".join(m.name for m in models[:4]) + (f" and {len(models) - 4} more" if len(models) > 4 else "")
    message = (f"Connected to Studio {version or '(version not given)'} at {urllib.parse.urlsplit(url).netloc}: "
               f"{_count(count, 'replica')} on {', '.join(devices) or 'an unnamed device'}; "
               f"{_count(len(models), 'model')}{': ' + names if names else ''}.")
    if not models:
        message += " Put a model into the server's models folder (studio serve --models DIR)."
    return ServerCheck(url, "", message, version, count, devices, models)


def address_problem(url: str) -> str:
    """Why `url` is not a server address, or ""."""
    text = url.strip()
    if not text:
        return "Enter the server's address, e.g. http://127.0.0.1:8123 (what `studio serve` printed)."
    parts = urllib.parse.urlsplit(normalise_url(text))
    try:
        port = parts.port
    except ValueError:
        return f"{text} has a port that is not a number from 1 to 65535."
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{text} is not a server address; use http://HOST:PORT."
    if port is None:
        return f"{text} has no port; `studio serve` listens on one, 8123 unless told otherwise."
    return ""


def _refusal(url: str, error: RemoteError) -> str:
    match error.reason:
        case "token":
            return (f"Unauthorised: the server at {url} refused the token. Copy the token that "
                    "`studio serve` printed (or its token file) into Studio.")
        case "version":
            return f"The server at {url} runs another version of Studio. {error}"
    return str(error)


def _models(raw: object) -> list[ServerModel]:
    out: list[ServerModel] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            continue
        defaults = item.get("defaults")
        limit = item.get("token_limit")
        out.append(ServerModel(
            id=item["id"],
            name=str(item.get("name") or item["id"]),
            family=str(item.get("family") or "other"),
            description=str(item.get("description") or ""),
            defaults=dict(defaults) if isinstance(defaults, dict) else {},
            bundled=item.get("bundled") is True,
            token_limit=limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
        ))
    return out


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
