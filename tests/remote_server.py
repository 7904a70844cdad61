"""A `studio serve` server on loopback for the tests: Ray on 127.0.0.1 with CPU replicas, and a
TCP relay in front of it whose connections a test can cut, as a dropped network would."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TOKEN = "test-token-1234"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class StudioServer:
    """A running server: its URL, the options it was deployed with, and stop/start to take it
    down and bring it back on the same port (Ray itself keeps running)."""

    def __init__(self, url: str, options: Any, port: int) -> None:
        self.url, self.options, self.port = url, options, port

    def stop(self) -> None:
        from studio.remote.serving import undeploy

        undeploy()

    def start(self) -> None:
        from studio.remote.serving import deploy

        deploy(self.options, host="127.0.0.1", port=self.port)


@contextlib.contextmanager
def running_server(models: Path, home: Path, *, replicas: int = 2) -> Iterator[StudioServer]:
    """Ray on this machine only, `replicas` CPU replicas serving the models in `models`."""
    import ray

    from studio.config.paths import StudioPaths
    from studio.remote.serving import ServeOptions, deploy, undeploy

    ray.init(num_cpus=replicas, include_dashboard=False, address="local", log_to_driver=False)
    options = ServeOptions(token=TOKEN, home=StudioPaths.under(home), models=str(models), replicas=replicas)
    port = free_port()
    try:
        url = deploy(options, host="127.0.0.1", port=port)
        yield StudioServer(url, options, port)
    finally:
        undeploy()
        ray.shutdown()


class Relay:
    """Forwards 127.0.0.1:`port` to the server's port. `cut()` closes every connection going
    through it (the server sees its client vanish, the client its server); new ones still pass."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)  # so that close() is heard
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self._accepting = threading.Thread(target=self._accept, name="relay-accept", daemon=True)
        self._accepting.start()

    def cut(self) -> int:
        """Close the connections open now; how many there were."""
        with self._lock:
            cut, self._open = self._open, []
        for end in cut:  # the pumps wake up and close them
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        return len(cut) // 2

    def close(self) -> None:
        self._closed = True
        self._accepting.join(5)
        self._listener.close()
        self.cut()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            try:
                server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            pair = _Pair(client, server, self._forget)
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=pair.pump, args=(source, sink), daemon=True).start()

    def _forget(self, ends: tuple[socket.socket, socket.socket]) -> None:
        with self._lock:
            self._open = [end for end in self._open if end not in ends]


class _Pair:
    """One relayed connection: two pumps; the last to stop closes both sockets."""

    def __init__(self, client: socket.socket, server: socket.socket, forget: Any) -> None:
        self.ends = (client, server)
        self._forget = forget
        self._running = 2
        self._lock = threading.Lock()

    def pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in self.ends:  # one side gone: the other hears of it at once
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if last:
            self._forget(self.ends)
            for end in self.ends:
                end.close()
