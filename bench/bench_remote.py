"""The remote engine (`studio serve`, Ray Serve on 127.0.0.1) against the local engine, side by side.

Same model (the bundled demo), same request, same thread count (one CPU per replica, one torch
thread locally), runs interleaved local-remote so drift on a busy machine falls on both sides:
- per-step time, from one Step event to the next as the client sees it, remote vs local;
- time to first preview, from `generate` to the first Step event (models already loaded);
- preview bytes per step as they cross the wire (the binary step frames, headers included);
- a batch's images per second with one replica, then with two (the batch split over them).
"""

from __future__ import annotations

import itertools
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

DEMO_ID = "studio-shapes"
TOKEN = "bench-remote-token"


def _figure(value: float | None, unit: str, better: str = "lower", note: str = "",
            target: float | None = None) -> dict[str, Any]:
    return {"value": None if value is None else round(value, 4), "target": target, "unit": unit,
            "better": better, "note": note}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _timed_run(engine: Any, request: Any) -> tuple[float, list[float], float]:
    """(seconds to the first Step, seconds between Steps, whole run seconds) as the caller sees them."""
    from studio.engine.run.events import Finished, Step

    arrivals: list[float] = []
    started = time.perf_counter()
    outcome = engine.generate(request, lambda e: arrivals.append(time.perf_counter()) if isinstance(e, Step) else None)
    total = time.perf_counter() - started
    if not isinstance(outcome, Finished):
        raise SystemExit(f"bench_remote: a run did not finish: {getattr(outcome, 'message', outcome)}")
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    return arrivals[0] - started, gaps, total


def _wire_bytes(url: str, request: Any) -> tuple[int, int]:
    """(bytes of step frames, steps) of one run, read off the websocket as it arrives."""
    from websockets.sync.client import connect

    from studio.remote import protocol

    steps = size = 0
    address = "ws" + url[len("http"):] + "/v1/run"
    with connect(address, additional_headers={"Authorization": f"Bearer {TOKEN}"},
                 max_size=protocol.MAX_FRAME_BYTES, proxy=None) as ws:
        ws.send(protocol.message("run", request=protocol.request_to_json(request), uploads=[]))
        while True:
            data = ws.recv(timeout=300)
            if isinstance(data, bytes):
                if protocol.read_frame(data)[0] == protocol.STEP:
                    steps += 1
                    size += len(data)
            elif protocol.read_message(data)["type"] in ("finished", "failed", "cancelled"):
                return size, steps


def _batch_rate(remote: Any, request: Any, repeats: int) -> float:
    """Median images per second of `request` (a batch) through the server."""
    rates = []
    for _ in range(repeats):
        _, _, total = _timed_run(remote, request)
        rates.append(request.batch / total)
    return statistics.median(rates)


def run(args: Any) -> dict[str, dict[str, Any]]:
    try:
        import ray
    except ImportError:
        return {"remote per-step time vs local": _figure(None, "x", note="Ray Serve is not installed")}
    import torch

    from studio.config.paths import StudioPaths, bundled_models_dir
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine
    from studio.engine.run.request import GenerationRequest
    from studio.remote.client import RemoteEngine
    from studio.remote.serving import ServeOptions, deploy, undeploy

    if not (bundled_models_dir() / DEMO_ID / "model_index.json").is_file():
        return {"remote per-step time vs local": _figure(None, "x", note="the bundled demo model is not installed")}
    quick = bool(getattr(args, "quick", False))
    pairs, batch_repeats, batch = (3, 1, 4) if quick else (6, 5, 4)
    torch.set_num_threads(1)  # as each replica runs: one CPU each
    request = GenerationRequest(prompt="a red circle on a blue background", model=DEMO_ID, steps=10,
                                width=64, height=64, seed=3, guidance=4.0)
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        local_paths = StudioPaths.under(Path(tmp) / "local")
        local = Engine(ModelRegistry(local_paths))
        ray.init(num_cpus=2, include_dashboard=False, address="local", log_to_driver=False)
        try:
            options = ServeOptions(token=TOKEN, home=StudioPaths.under(Path(tmp) / "server"), replicas=1)
            url = deploy(options, host="127.0.0.1", port=_free_port())
            remote = RemoteEngine(url, TOKEN)
            for engine in (local, remote):  # load the model on both sides before timing
                _timed_run(engine, request)
            first: dict[str, list[float]] = {"local": [], "remote": []}
            step: dict[str, list[float]] = {"local": [], "remote": []}
            for _ in range(pairs):
                for name, engine in (("local", local), ("remote", remote)):
                    to_first, gaps, _ = _timed_run(engine, request)
                    first[name].append(to_first)
                    step[name].extend(gaps)
            size, steps = _wire_bytes(url, request)
            one = _batch_rate(remote, request.replace(batch=batch), batch_repeats)
            undeploy()
            options = ServeOptions(token=TOKEN, home=options.home, replicas=2)
            url = deploy(options, host="127.0.0.1", port=_free_port())
            remote = RemoteEngine(url, TOKEN)
            _timed_run(remote, request.replace(batch=2))  # both replicas load the model
            two = _batch_rate(remote, request.replace(batch=batch), batch_repeats)
        finally:
            undeploy()
            ray.shutdown()
    step_local, step_remote = statistics.median(step["local"]), statistics.median(step["remote"])
    first_local, first_remote = statistics.median(first["local"]), statistics.median(first["remote"])
    size_note = f"demo model, {request.width}x{request.height}, {request.steps} steps"
    figures["remote per-step time vs local"] = _figure(
        step_remote / step_local, "x",
        note=f"median step {step_remote * 1000:.1f} ms remote, {step_local * 1000:.1f} ms local; {size_note}")
    figures["remote per-step overhead ms"] = _figure((step_remote - step_local) * 1000, "ms", note=size_note)
    figures["time to first preview remote ms"] = _figure(first_remote * 1000, "ms", note=size_note)
    figures["time to first preview local ms"] = _figure(first_local * 1000, "ms", note=size_note)
    figures["time to first preview remote vs local"] = _figure(first_remote / first_local, "x", note=size_note)
    figures["preview bytes per step"] = _figure(size / max(steps, 1), "B",
                                                note=f"step frames on the websocket, {steps} steps; {size_note}")
    figures["batch images/s, 1 replica"] = _figure(one, "img/s", "higher", note=f"batch of {batch}")
    figures["batch images/s, 2 replicas"] = _figure(two, "img/s", "higher", note=f"batch of {batch}")
    figures["batch throughput 2 vs 1 replicas"] = _figure(
        two / one, "x", "higher", note=f"one CPU per replica, on a machine with {_cores()} cores")
    return figures


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
