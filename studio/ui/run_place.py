"""Where runs go, as the window shows it: the status bar's "Local · CPU" or "Remote · host:port ·
N replicas", and, for a server, the models it lists for the model picker."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel

from studio.config.settings import Settings
from studio.engine.catalogue.registry import ModelEntry
from studio.engine.errors import ServerUnavailable
from studio.engine.run.events import Failed, Started
from studio.remote.connect import ServerCheck
from studio.ui.events import EngineReady, ServerWaiting
from studio.ui.server_probe import ServerProbe

SERVER_SOURCE = "server"  # ModelEntry.source of a model the server lists

_NOT_CONNECTED = {"token": "token refused", "version": "other version", "address": "no address"}


class RunPlace(QObject):
    """Keeps the status bar's engine label true to where runs go.

    Signals:
        server_models(object): the server's models as ModelEntry objects, once it answered.
    """

    server_models = Signal(object)

    def __init__(self, label: QLabel, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._label = label
        self._settings = settings
        self._probe = ServerProbe(self)
        self._probe.checked.connect(self._on_checked)
        self._device = ""  # this computer's, once its engine is ready
        self.last_check: ServerCheck | None = None
        self.local_models: list[ModelEntry] = []  # to find a bundled model's files here

    @property
    def remote(self) -> bool:
        return self._settings.engine.remote

    @property
    def connected(self) -> bool:
        return self.remote and self.last_check is not None and self.last_check.connected

    def refresh(self) -> None:
        """Say where runs go now; for a server, ask it again (its answer updates the label)."""
        if self.remote:
            self.last_check = None
            chosen = self._settings.engine
            self._label.setText(f"Remote · connecting to {_where(chosen.server_url)}…")
            self._probe.check(chosen.server_url, chosen.token)
        else:
            self._label.setText(f"Local · {self._device}" if self._device else "Loading the engine…")

    def engine_ready(self, device: str) -> None:
        if not self.remote:
            self._device = device.upper() if device.isalpha() else device
            self.refresh()

    def server_down(self, reason: str) -> None:
        """A run found the server unusable: say so until it answers again."""
        if self.remote:
            self.last_check = None
            self._label.setText(f"Remote · {_NOT_CONNECTED.get(reason, 'unreachable')}")

    def follow(self, event: object) -> None:
        """Keep the label true to what runs report about the engine or the server."""
        match event:
            case EngineReady(device=device):
                self.engine_ready(device)
            case Started() if self.remote and not self.connected:
                self.refresh()  # the server is back: say so, with its replicas
            case ServerWaiting(cause=cause):
                self.server_down(getattr(cause, "reason", ""))
            case Failed(cause=ServerUnavailable()):
                self.refresh()  # lost mid-run: is the server still there?

    def close(self) -> None:
        self._probe.close()

    @Slot(object)
    def _on_checked(self, check: ServerCheck) -> None:
        if not self.remote:
            return
        self.last_check = check
        if check.connected:
            replicas = f"{check.replicas} replica{'s' if check.replicas != 1 else ''}"
            self._label.setText(f"Remote · {check.where} · {replicas}")
            self._label.setToolTip(check.message)
            self.server_models.emit(server_entries(check, self.local_models))
        else:
            self._label.setText(f"Remote · {_NOT_CONNECTED.get(check.reason, 'unreachable')}")
            self._label.setToolTip(check.message)


def server_entries(check: ServerCheck, local: list[ModelEntry]) -> list[ModelEntry]:
    """The server's models as the picker lists them. A built-in model is the same one here, so
    its files here count the prompt's tokens; any other lives only on the server."""
    here = {entry.id: entry for entry in local if entry.bundled}
    entries = []
    for model in check.models:
        same = here.get(model.id) if model.bundled else None
        entries.append(ModelEntry(
            id=model.id, name=model.name, path=same.path if same else Path(model.id), family=model.family,
            description=f"On the server {check.where}." + (f" {model.description}" if model.description else ""),
            defaults=dict(model.defaults), token_limit=model.token_limit, bundled=model.bundled,
            source=SERVER_SOURCE,
        ))
    return entries


def _where(url: str) -> str:
    from urllib.parse import urlsplit

    from studio.remote.client import normalise_url

    return urlsplit(normalise_url(url)).netloc or url
