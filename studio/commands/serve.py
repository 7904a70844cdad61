"""`studio serve`: Studio's engine as a Ray Serve application, for desktops on other machines."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from studio.engine.run.request import BATCH_RANGE, SIZE_RANGE, STEPS_RANGE
from studio.remote.protocol import MAX_UPLOAD_BYTES


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="run the engine as a server (Ray Serve) for Studio on other machines")
    p.add_argument("--models", type=Path, help="a folder of models to offer besides Studio's own")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; reach it by an SSH tunnel)")
    p.add_argument("--port", type=int, default=8123, help="port to listen on (default 8123)")
    secret = p.add_mutually_exclusive_group()
    secret.add_argument("--token", help="the token clients must send (default: one kept in Studio's data folder)")
    secret.add_argument("--token-file", type=Path, help="read the token from this file")
    p.add_argument("--replicas", type=int, default=1, help="engines to run, one per GPU (default 1)")
    p.add_argument("--gpus-per-replica", type=float,
                   help="GPUs each engine takes (default 1 where the cluster has GPUs, else 0: the CPU)")
    p.add_argument("--address", help="join this Ray cluster (e.g. auto, or HEAD:6379) instead of starting one")
    p.add_argument("--max-steps", type=int, default=STEPS_RANGE[1], help="most steps a run may ask for")
    p.add_argument("--max-side", type=int, default=SIZE_RANGE[1], help="most pixels on an image's side")
    p.add_argument("--max-batch", type=int, default=BATCH_RANGE[1], help="most images a run may ask for")
    p.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD_BYTES / 2**20,
                   help="most megabytes of one start image or mask sent to the server")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from studio.config.paths import StudioPaths
    from studio.remote.tokens import read_token_file, stored_token

    if not 1 <= args.port <= 65535:
        return _bad(f"--port must be from 1 to 65535, not {args.port}.")
    if not 1 <= args.replicas <= 64:
        return _bad(f"--replicas must be from 1 to 64, not {args.replicas}.")
    if args.gpus_per_replica is not None and not 0 <= args.gpus_per_replica <= 16:
        return _bad(f"--gpus-per-replica must be from 0 to 16, not {args.gpus_per_replica:g}.")
    for flag, value, (lo, hi) in (("--max-steps", args.max_steps, STEPS_RANGE),
                                  ("--max-side", args.max_side, SIZE_RANGE),
                                  ("--max-batch", args.max_batch, BATCH_RANGE),
                                  ("--max-upload-mb", args.max_upload_mb, (0.01, MAX_UPLOAD_BYTES / 2**20))):
        if not lo <= value <= hi:
            return _bad(f"{flag} must be from {lo:g} to {hi:g}, not {value:g}.")
    if args.models is not None and not args.models.is_dir():
        return _bad(f"--models {args.models} is not a folder.")
    paths = StudioPaths.default()
    try:
        if args.token is not None:
            token = args.token.strip()
            if len(token) < 8:
                return _bad("--token must be at least 8 characters long; a short token is guessed.")
        elif args.token_file is not None:
            token = read_token_file(args.token_file)
        else:
            token = stored_token(paths.data_dir / "server-token")
    except (ValueError, OSError) as error:
        return _bad(str(error))
    try:
        import ray  # noqa: F401
        from ray import serve  # noqa: F401
    except ImportError:
        return _failed("studio serve needs Ray Serve: pip install 'studio-diffusion[server]'.")
    return _serve(args, paths, token)


def _serve(args: argparse.Namespace, paths: Any, token: str) -> int:
    import ray

    from studio.remote.serving import ServeOptions, deploy, undeploy
    from studio.remote.session import ServerLimits

    try:
        if args.address:
            ray.init(address=args.address, include_dashboard=False)
        else:
            ray.init(address="local", include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        return _failed(f"Ray could not start or join {args.address or 'a local instance'}: {error}")
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        resources = ray.cluster_resources()
        gpus = args.gpus_per_replica
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        cpus = 1.0 if gpus else max(1.0, float(int(resources.get("CPU", os.cpu_count() or 1)) // args.replicas))
        options = ServeOptions(token=token, home=paths, models=str(args.models.resolve()) if args.models else "",
                               replicas=args.replicas, gpus_per_replica=gpus, cpus_per_replica=cpus,
                               limits=ServerLimits(max_steps=args.max_steps, max_side=args.max_side,
                                                   max_batch=args.max_batch,
                                                   max_upload_bytes=int(args.max_upload_mb * 2**20)))
        url = deploy(options, host=args.host, port=args.port)
        where = f"{args.replicas} engine(s) on " + (f"{gpus:g} GPU each" if gpus else f"{cpus:g} CPU(s) each")
        print(f"Studio is serving at {url} ({where}).", flush=True)
        print(f"Token: {token}", flush=True)
        print("In Studio: Settings → Engine → Remote; or studio generate --server URL --token TOKEN ...",
              file=sys.stderr, flush=True)
        print("Press Ctrl+C to stop.", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
        print("studio serve: stopping", file=sys.stderr, flush=True)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            undeploy()
        finally:
            ray.shutdown()


def _bad(message: str) -> int:
    print(f"studio serve: error: {message}", file=sys.stderr)
    return 2


def _failed(message: str) -> int:
    print(f"studio serve: {message}", file=sys.stderr)
    return 1
