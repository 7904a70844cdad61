"""`studio generate --server URL --token TOKEN ...`: the run happens on a `studio serve` server,
the images are saved here with the same metadata, plus which server made them."""

from __future__ import annotations

import argparse
import os
from typing import Any


def run_remote(args: argparse.Namespace, paths: Any) -> int:
    from studio.commands.generate import _bad, _failed, _generate, build_request, output_folder_problem
    from studio.remote.client import RemoteEngine, RemoteError

    token = args.token or os.environ.get("STUDIO_TOKEN", "")
    if not token:
        return _bad("--server needs the server's --token (the one `studio serve` printed), or STUDIO_TOKEN.")
    if args.device or args.allow_pickle:
        return _bad("--device and --allow-pickle choose for this computer; a server runs on its own devices.")
    engine = RemoteEngine(args.server, token)
    try:
        info = engine.info()
    except RemoteError as error:
        return _failed(str(error))
    entry = _server_model(info.get("models"), args.model)
    if entry is None:
        names = ", ".join(str(m.get("id")) for m in info.get("models") or [] if isinstance(m, dict))
        return _bad(f"The server has no model {args.model!r}; it has: {names or 'none'}.")
    defaults = entry.get("defaults") if isinstance(entry.get("defaults"), dict) else {}
    try:
        request = build_request(args, defaults)
    except ValueError as error:
        return _bad(str(error))
    problems = request.problems()
    if problems:
        return _bad(" ".join(problems))
    out = args.out if args.out is not None else paths.gallery_dir
    unusable = output_folder_problem(out, "--out" if args.out is not None else "The gallery folder")
    if unusable:
        return _bad(unusable)
    return _generate(request.replace(model=str(entry["id"])), out, args.out is None, None, paths, None, engine=engine)


def _server_model(models: Any, wanted: str) -> dict[str, Any] | None:
    """The server's model that `wanted` names (its id or name); its first for the default."""
    listed = [m for m in models or [] if isinstance(m, dict) and isinstance(m.get("id"), str)]
    if not wanted:
        return listed[0] if listed else None
    return next((m for m in listed if wanted in (m["id"], m.get("name"))), None)
