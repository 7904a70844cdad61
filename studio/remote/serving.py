"""`studio serve` as a Ray Serve application: an ingress (FastAPI: GET /v1/info, WS /v1/run)
in front of engine replicas, one per GPU, each running one request at a time.

No `from __future__ import annotations` here: FastAPI reads the route methods' annotations
(Request, WebSocket) as objects, and those are imported inside `_ingress_class`.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Any

from studio.config.paths import StudioPaths
from studio.remote.replica import EngineReplica, paths_to_json
from studio.remote.session import RunSession, ServerLimits

APP_NAME = "studio"
INFO_WAIT_SECONDS = 3.0  # a replica busy with a run answers later; the last answer stands in


@dataclass(frozen=True)
class ServeOptions:
    """Everything the application needs; `home` is where the replicas keep their caches."""

    token: str
    home: StudioPaths
    models: str = ""  # an extra models folder (--models)
    replicas: int = 1
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    device: str = ""  # "" picks the best on each replica
    limits: ServerLimits = field(default_factory=ServerLimits)
    max_connections: int = 64  # sockets and info calls at once; more wait in Serve's queue


def build_app(options: ServeOptions) -> Any:
    """The bound Serve application: nothing is started until `serve.run` is given it."""
    from ray import serve

    replica: Any = serve.deployment(
        EngineReplica,
        name="StudioEngine",
        num_replicas=options.replicas,
        max_ongoing_requests=1,  # one run at a time per replica: its GPU is not shared
        ray_actor_options={"num_gpus": options.gpus_per_replica, "num_cpus": options.cpus_per_replica},
    )
    ingress: Any = serve.deployment(_ingress_class(), name="StudioIngress", ray_actor_options={"num_cpus": 0},
                                    max_ongoing_requests=options.max_connections)
    threads = max(1, int(options.cpus_per_replica)) if not options.gpus_per_replica else 0
    engine = replica.bind(paths_to_json(options.home), options.models, options.device, threads)
    return ingress.bind(engine, options.token, options.limits, options.replicas)


def _ingress_class() -> type:
    """The ingress class, made here so that importing this module creates no FastAPI app."""
    from fastapi import FastAPI, Request, WebSocket
    from fastapi.responses import JSONResponse
    from ray import serve
    from starlette.responses import Response

    from studio import __version__
    from studio.remote import protocol
    from studio.remote.tokens import token_from_headers, token_matches

    app = FastAPI(title="Studio", docs_url=None, redoc_url=None, openapi_url=None)
    refused = {"error": "A valid token is required (Authorization: Bearer TOKEN)."}
    expected: list[str] = []  # the token, set by the ingress in its own process

    @app.middleware("http")
    async def require_token(request: Request, call_next: Any) -> Any:
        # Every HTTP route, a mistyped one included, answers 401 before anything else without
        # the token (the websocket route checks it itself: middleware sees only HTTP).
        if not token_matches(token_from_headers(request.headers), expected[0] if expected else ""):
            return JSONResponse(refused, status_code=401)
        return await call_next(request)

    @serve.ingress(app)
    class StudioIngress:
        def __init__(self, engine: Any, token: str, limits: ServerLimits, replicas: int) -> None:
            self._engine = engine
            self._token = token
            expected[:] = [token]
            self._limits = limits
            self._replicas = replicas
            self._info: dict[str, Any] | None = None
            self._runs = 0  # runs accepted since the start: a refused token adds none

        def _allowed(self, headers: Any) -> bool:
            return token_matches(token_from_headers(headers), self._token)

        @app.get("/v1/info")
        async def info(self, request: Request) -> Any:
            if not self._allowed(request.headers):
                return JSONResponse(refused, status_code=401)
            try:
                self._info = await asyncio.wait_for(self._engine.info.remote(), INFO_WAIT_SECONDS)
                busy = False
            except asyncio.TimeoutError:
                busy = True  # every replica is running: the last answer stands in
            return {"v": protocol.PROTOCOL_VERSION, "studio": __version__, "replicas": self._replicas,
                    "busy": busy, "runs": self._runs, "limits": vars(self._limits), **(self._info or {})}

        @app.websocket("/v1/run")
        async def run(self, socket: WebSocket) -> None:
            if not self._allowed(socket.headers):
                await socket.send_denial_response(Response(refused["error"], status_code=401))
                return
            await socket.accept()
            self._runs += 1
            await RunSession(socket, self._engine, self._limits).serve()

    return StudioIngress


def deploy(options: ServeOptions, *, host: str, port: int) -> str:
    """Start Serve's HTTP proxy on host:port (Ray must be running) and the application; the URL."""
    from ray import serve

    serve.start(http_options={"host": host, "port": port})
    serve.run(build_app(options), name=APP_NAME, route_prefix="/", blocking=False)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def undeploy() -> None:
    """Stop the application and Serve (Ray itself keeps running)."""
    from ray import serve

    serve.shutdown()  # type: ignore[no-untyped-call]
