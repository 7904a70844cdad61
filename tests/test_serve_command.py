"""`studio serve` as a person runs it: a server in one process, `studio generate --server` in
another, the same pixels as a local run, and Ctrl+C that stops it cleanly."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("ray")
TOKEN = "serve-command-token"
PROMPT = "a red circle on a blue background"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    # Both sides use the machine's default thread count, as a person's two terminals would.
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    return env | {"STUDIO_HOME": str(home), "HF_HUB_OFFLINE": "1"}


def _studio(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True,
                          env=_env(home), timeout=600)


def _listening_hosts(port: int) -> set[str]:
    """The addresses a socket listens on at `port`, read from the kernel's table (Linux)."""
    hosts = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            # The kernel writes each 32-bit word of the address in the host's byte order.
            raw = b"".join(bytes.fromhex(address[i:i + 8])[::-1] for i in range(0, len(address), 8))
            hosts.add(socket.inet_ntop(family, raw))
    return hosts


def _pixels(run: subprocess.CompletedProcess[str]) -> np.ndarray:
    (path,) = run.stdout.splitlines()
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.slow
def test_serve_then_generate_there_gives_the_local_pixels_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "studio", "serve", "--token", TOKEN, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_env(tmp_path / "server-home"))
    try:
        assert server.stdout is not None
        # Nothing is buffered yet, so select on the pipe sees the first line (or the exit) arrive.
        ready, _, _ = select.select([server.stdout], [], [], 300)
        assert ready, "studio serve printed nothing within 300 s"
        first = server.stdout.readline()
        assert first.startswith("Studio is serving at http://127.0.0.1:"), first + server.stderr.read()
        url = first.split(" at ")[1].split(" ")[0]
        assert url == f"http://127.0.0.1:{port}"
        assert server.stdout.readline().strip() == f"Token: {TOKEN}"
        if Path("/proc/net/tcp").exists():
            # Only the loopback address listens: other machines cannot reach it without --host.
            assert _listening_hosts(port) == {"127.0.0.1"}

        args = ("generate", "--prompt", PROMPT, "--seed", "3")
        remote = _studio(*args, "--server", url, "--token", TOKEN, "--out", str(tmp_path / "remote"),
                         home=tmp_path / "client-home")
        assert remote.returncode == 0, remote.stderr
        wrong = _studio(*args, "--server", url, "--token", "not-the-token", "--out", str(tmp_path / "wrong"),
                        home=tmp_path / "client-home")
        assert wrong.returncode != 0
        assert "refused the token" in wrong.stderr and "Traceback" not in wrong.stderr
        assert not (tmp_path / "wrong").exists() or not list((tmp_path / "wrong").iterdir())
    finally:
        server.send_signal(signal.SIGINT)
        stopped_at = time.monotonic()
        try:
            _, errors = server.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
            pytest.fail("studio serve did not stop within 120 s of Ctrl+C")
    assert server.returncode == 0, errors
    assert "Traceback" not in errors and "studio serve: stopping" in errors
    assert time.monotonic() - stopped_at < 120

    local = _studio(*args, "--out", str(tmp_path / "local"), home=tmp_path / "local-home")
    assert local.returncode == 0, local.stderr
    assert np.array_equal(_pixels(remote), _pixels(local))
