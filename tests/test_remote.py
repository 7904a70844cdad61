"""`studio serve` on loopback: a Ray instance on 127.0.0.1 with two CPU replicas, one per module,
and the client that makes it look like the local engine."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.engine.errors import ServerUnavailable
from studio.engine.run.cancel import CancelToken
from studio.engine.run.events import Cancelled, Event, Failed, Finished, Started, Step
from studio.engine.run.request import GenerationRequest
from tests.remote_server import TOKEN, free_port

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def server(studio_server: Any) -> Any:
    """The URL of a Studio server with two CPU replicas, up for the whole module."""
    return studio_server


def _request(model: Path, **changes: Any) -> GenerationRequest:
    values: dict[str, Any] = {"seed": 3, "steps": 4, "width": 64, "height": 64, **changes}
    return GenerationRequest(prompt="a red circle", model=str(model), **values)


def _run(engine: Any, request: GenerationRequest, cancel: CancelToken | None = None,
         after_step: Any = None) -> tuple[list[Event], Any]:
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if after_step is not None and isinstance(event, Step):
            after_step(event)

    return events, engine.generate(request, on_event, cancel)


def test_previews_every_step_and_the_same_pixels_as_local(server: Any, tiny_sd_model: Path,
                                                          studio_paths: Any) -> None:
    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine
    from studio.remote.client import RemoteEngine

    request = _request(tiny_sd_model)
    events, outcome = _run(RemoteEngine(server.url, TOKEN), request)
    assert isinstance(outcome, Finished), getattr(outcome, "message", outcome)
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.index for s in steps] == [1, 2, 3, 4]
    assert all(s.preview is not None and s.preview.dtype == np.uint8 for s in steps)
    assert isinstance(events[0], Started) and events[0].total == 4
    assert outcome.server == server.url
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each replica runs (one CPU each): float sums depend on the split
    try:
        _, local = _run(Engine(ModelRegistry(studio_paths)), request)
    finally:
        torch.set_num_threads(threads)
    assert isinstance(local, Finished)
    assert np.array_equal(np.asarray(outcome.images[0]), np.asarray(local.images[0]))
    assert len(outcome.film) == len(local.film) == 4


def _info(url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    call = urllib.request.Request(f"{url}/v1/info", headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(call, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def test_a_missing_or_wrong_token_is_refused_and_nothing_runs(server: Any, tiny_sd_model: Path) -> None:
    from studio.remote.client import RemoteEngine

    status, before = _info(server.url, TOKEN)
    assert status == 200
    assert str(tiny_sd_model) in [m["id"] for m in before["models"]]
    assert before["v"] == 1 and before["device"] == "cpu"
    assert _info(server.url, None)[0] == 401
    assert _info(server.url, "wrong")[0] == 401
    for token in ("", "wrong"):
        events, outcome = _run(RemoteEngine(server.url, token), _request(tiny_sd_model))
        assert isinstance(outcome, Failed)
        assert outcome.cause == ServerUnavailable(server.url, "token")
        assert "refused the token" in outcome.message
        assert not any(isinstance(e, Started | Step) for e in events)
    assert _info(server.url, TOKEN)[1]["runs"] == before["runs"]


def test_cancel_stops_the_run_within_a_step(server: Any, tiny_sd_model: Path) -> None:
    from studio.remote.client import RemoteEngine

    cancel = CancelToken()

    def press_cancel(step: Step) -> None:
        if step.index == 2:
            cancel.cancel()

    events, outcome = _run(RemoteEngine(server.url, TOKEN), _request(tiny_sd_model, steps=30, width=128, height=128),
                           cancel, press_cancel)
    assert isinstance(outcome, Cancelled), getattr(outcome, "message", outcome)
    steps = [e.index for e in events if isinstance(e, Step)]
    assert steps[-1] <= 4 and outcome.steps_done <= 4


def test_two_replicas_serve_one_batch_in_order(server: Any, tiny_sd_model: Path) -> None:
    from websockets.sync.client import connect

    from studio.remote import protocol
    from studio.remote.client import RemoteEngine

    request = _request(tiny_sd_model, batch=2, steps=6)
    with connect(server.url.replace("http", "ws") + "/v1/run", proxy=None,
                 additional_headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
        socket.send(protocol.message("run", request=request.to_dict()))
        while True:
            data = socket.recv(timeout=120)
            if isinstance(data, str) and protocol.read_message(data)["type"] != "started":
                finished = protocol.read_message(data)
                break
    assert finished["type"] == "finished" and finished["images"] == 2
    assert len(finished["replicas"]) == 2  # both images ran at once, one on each replica
    _, outcome = _run(RemoteEngine(server.url, TOKEN), request)
    assert isinstance(outcome, Finished) and len(outcome.images) == 2
    for number, single in enumerate(request.per_image()):
        _, alone = _run(RemoteEngine(server.url, TOKEN), single)
        assert isinstance(alone, Finished)
        assert np.array_equal(np.asarray(alone.images[0]), np.asarray(outcome.images[number]))


def test_an_unknown_model_or_a_path_on_the_server_is_refused(server: Any) -> None:
    from studio.remote.client import RemoteEngine

    _, outcome = _run(RemoteEngine(server.url, TOKEN), GenerationRequest(prompt="x", model="/etc", steps=2))
    assert isinstance(outcome, Failed) and "has no model" in outcome.message


def test_a_refused_connection_says_so() -> None:
    from studio.remote.client import RemoteEngine

    url = f"http://127.0.0.1:{free_port()}"
    events, outcome = _run(RemoteEngine(url, TOKEN), GenerationRequest(prompt="x", steps=2))
    assert isinstance(outcome, Failed)
    assert outcome.cause == ServerUnavailable(url, "unreachable")
    assert "could not reach the server" in outcome.message and "refused" in outcome.message
    assert events == [outcome]


def test_a_killed_replica_fails_the_job_in_words(server: Any, tiny_sd_model: Path) -> None:
    from studio.remote.client import RemoteEngine

    def kill_replicas(step: Step) -> None:
        if step.index == 1:
            for actor in ray.util.list_named_actors(all_namespaces=True):
                if "StudioEngine" in actor["name"]:
                    ray.kill(ray.get_actor(actor["name"], namespace=actor["namespace"]), no_restart=False)

    _, outcome = _run(RemoteEngine(server.url, TOKEN), _request(tiny_sd_model, steps=30, width=128, height=128),
                      None, kill_replicas)
    assert isinstance(outcome, Failed), outcome
    assert outcome.cause == ServerUnavailable(reason="engine")
    assert "replica died" in outcome.message


def test_a_server_restart_between_two_jobs(server: Any, tiny_sd_model: Path) -> None:
    from studio.remote.client import RemoteEngine

    engine = RemoteEngine(server.url, TOKEN)
    server.stop()
    _, down = _run(engine, _request(tiny_sd_model))
    assert isinstance(down, Failed) and down.cause == ServerUnavailable(server.url, "unreachable")
    server.start()
    _, outcome = _run(engine, _request(tiny_sd_model))
    assert isinstance(outcome, Finished), getattr(outcome, "message", outcome)


def test_another_protocol_version_is_refused_in_words(server: Any) -> None:
    from websockets.sync.client import connect

    from studio.remote import protocol
    from studio.remote.client import _Run

    with connect(server.url.replace("http", "ws") + "/v1/run", proxy=None,
                 additional_headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
        socket.send(json.dumps({"v": 2, "type": "run", "request": {"prompt": "x"}}))
        answer = protocol.read_message(socket.recv(timeout=60))
    assert answer["type"] == "failed" and "protocol version 2" in answer["message"]
    assert protocol.cause_from_json(answer["cause"]) == ServerUnavailable(reason="version")
    run = _Run(GenerationRequest(prompt="x"), server.url, lambda event: None)
    with pytest.raises(protocol.ProtocolError, match="protocol version 9"):
        run.take(json.dumps({"v": 9, "type": "started", "total": 1}))


def test_a_slow_network_gets_the_latest_preview_not_a_queue() -> None:
    import asyncio

    from studio.remote.session import Outbox

    async def scenario() -> list[Any]:
        outbox = Outbox()
        outbox.put("started")
        for step in range(1, 6):  # five steps arrive while the sender is still busy
            outbox.put(b"step %d" % step, droppable=True)
        outbox.put(b"image")
        outbox.put(None)
        return [await outbox.get() for _ in range(4)]

    assert asyncio.run(scenario()) == ["started", b"step 5", b"image", None]


def _local(request: GenerationRequest, paths: Any) -> Any:
    """The local engine's outcome for `request`, on one thread as each CPU replica runs."""
    import torch

    from studio.engine.catalogue.registry import ModelRegistry
    from studio.engine.run.engine import Engine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run(Engine(ModelRegistry(paths)), request)[1]
    finally:
        torch.set_num_threads(threads)


def test_every_route_wants_the_token_and_never_from_the_url(server: Any) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    assert _info(server.url.rstrip("/") + "/no-such-route", None)[0] == 401  # no route to find without it
    status, _ = _info(f"{server.url}/v1/info?token={TOKEN}", None)
    assert status == 401
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{server.url.replace('http', 'ws')}/v1/run?token={TOKEN}", proxy=None, open_timeout=30)
    assert refused.value.response.status_code == 401


def test_a_start_image_and_mask_travel_as_bytes_and_give_the_local_pixels(
    server: Any, tiny_sd_model: Path, studio_paths: Any, tmp_path: Path,
) -> None:
    from PIL import Image

    from studio.remote.client import RemoteEngine

    y, x = np.mgrid[0:64, 0:64]
    start = tmp_path / "start.jpg"  # a JPEG goes as it is
    Image.fromarray(np.stack([x * 4, y * 4, x + y], axis=-1).astype(np.uint8)).save(start, quality=90)
    mask = tmp_path / "mask.bmp"  # a BMP goes as PNG
    painted = Image.new("L", (64, 64), 0)
    painted.paste(255, (16, 16, 48, 48))
    painted.save(mask)
    for changes in ({"start_image": str(start), "strength": 0.5},
                    {"start_image": str(start), "mask": str(mask), "strength": 0.75, "mask_blur": 2}):
        request = _request(tiny_sd_model, **changes)
        events, outcome = _run(RemoteEngine(server.url, TOKEN), request)
        assert isinstance(outcome, Finished), getattr(outcome, "message", outcome)
        assert outcome.request.start_image == str(start)  # the metadata names this computer's file
        assert outcome.request.mask == changes.get("mask", "")
        assert [e.index for e in events if isinstance(e, Step)] == list(range(1, request.steps_to_run + 1))
        local = _local(request, studio_paths)
        assert isinstance(local, Finished)
        assert np.array_equal(np.asarray(outcome.images[0]), np.asarray(local.images[0]))


def _raw_run(url: str, data: dict[str, Any], *frames: bytes) -> dict[str, Any]:
    """The server's outcome message for a hand-made run."""
    from websockets.sync.client import connect

    from studio.remote import protocol

    with connect(url.replace("http", "ws") + "/v1/run", proxy=None,
                 additional_headers={"Authorization": f"Bearer {TOKEN}"}) as socket:
        socket.send(protocol.message("run", **data))
        for payload in frames:
            socket.send(payload)
        while True:
            answer = socket.recv(timeout=120)
            if isinstance(answer, str) and protocol.read_message(answer)["type"] != "started":
                return protocol.read_message(answer)


def test_the_server_reads_no_path_a_client_names_and_checks_what_is_sent(
    server: Any, tiny_sd_model: Path, tmp_path: Path,
) -> None:
    from PIL import Image

    from studio.remote import protocol

    secret = tmp_path / "secret.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(secret)
    request = _request(tiny_sd_model, start_image=str(secret), strength=0.5).to_dict()
    named = _raw_run(server.url, {"request": request})
    assert named["type"] == "failed" and "reads no files from its own disk" in named["message"]
    gif = tmp_path / "a.gif"
    Image.new("RGB", (64, 64)).save(gif)
    upload = protocol.Upload("start_image", "../../a.gif", gif.read_bytes())
    refused = _raw_run(server.url, {"request": request, "uploads": ["start_image"]}, protocol.upload_frame(upload))
    assert refused["type"] == "failed"
    assert refused["message"] == "The start image a.gif is not a PNG, JPEG or WebP picture, or has more pixels " \
                                 "than this server opens."
    cut = protocol.Upload("start_image", "cut.png", secret.read_bytes()[:-40])
    damaged = _raw_run(server.url, {"request": request, "uploads": ["start_image"]}, protocol.upload_frame(cut))
    assert damaged["type"] == "failed" and "damaged or cut short" in damaged["message"]


def test_upload_and_request_bounds_say_what_is_allowed(tmp_path: Path) -> None:
    from PIL import Image

    from studio.engine.run.request import InvalidRequest
    from studio.remote import protocol
    from studio.remote.session import ServerLimits

    picture = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(picture)
    data = picture.read_bytes()
    assert protocol.upload_problem(data) == ""
    assert protocol.upload_problem(data, max_pixels=10_000) == (
        "is 300x300 pixels; this server takes at most 10,000 pixels")
    assert protocol.upload_problem(data, max_bytes=1024).startswith("is 0.3 MB; this server takes at most 0 MB")
    with pytest.raises(InvalidRequest, match=r"The start image big.png is 0.3 MB to send; the server takes at most"):
        protocol.uploads_for(GenerationRequest("x", start_image=str(picture)), max_bytes=1024)
    limits = ServerLimits(max_steps=10, max_side=256, max_batch=2)
    assert limits.problems(GenerationRequest("x", steps=11, width=512, batch=3)) == [
        "This server runs at most 10 steps.", "This server makes images of at most 256 pixels on a side.",
        "This server makes at most 2 images at once."]
    assert limits.problems(GenerationRequest("x", steps=10, width=256, height=256, batch=2)) == []
    assert protocol.safe_name("../../etc/passwd", "mask") == "passwd"
    assert protocol.safe_name("..", "mask") == "mask.png"


def test_the_longest_prompts_fit_in_a_run_message() -> None:
    from studio.engine.run.request import PROMPT_MAX_CHARS
    from studio.remote import protocol

    longest = "\N{GRINNING FACE}" * PROMPT_MAX_CHARS
    request = GenerationRequest(longest, negative_prompt=longest)
    assert request.problems() == []
    text = protocol.message("run", request=request.to_dict(), uploads=[])
    assert protocol.request_from_json(protocol.read_message(text)["request"]) == request
    with pytest.raises(protocol.ProtocolError, match="longer than the 1,048,576 allowed"):
        protocol.read_message(text + " " * protocol.MAX_MESSAGE_BYTES)
