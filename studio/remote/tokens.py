"""The server's access token: made, stored, read and compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from studio.config.atomic import write_atomic

TOKEN_HEADER = "x-studio-token"  # for clients that cannot set Authorization


def new_token() -> str:
    return secrets.token_urlsafe(32)


def read_token_file(path: Path) -> str:
    """The token in `path` (its first line); ValueError in words when there is none."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"The token file {path} cannot be read: {error.strerror or error}.") from None
    except UnicodeDecodeError:
        raise ValueError(f"The token file {path} is not text.") from None
    token = text.strip().splitlines()[0].strip() if text.strip() else ""
    if not token:
        raise ValueError(f"The token file {path} is empty.")
    return token


def stored_token(path: Path) -> str:
    """The token kept in `path`, made (and written readable by this user only) on first use."""
    if Path(path).is_file():
        return read_token_file(path)
    token = new_token()
    write_atomic(Path(path), token + "\n")
    try:
        os.chmod(path, 0o600)  # the token is a password: other accounts must not read it
    except OSError:
        pass
    return token


def token_matches(given: str | None, expected: str) -> bool:
    """Whether `given` is the token, in time that depends neither on where they differ nor on
    the token's length (both are hashed to the same length first)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(hashlib.sha256(given.encode("utf-8", "replace")).digest(),
                               hashlib.sha256(expected.encode("utf-8", "replace")).digest())


def token_from_headers(headers: Mapping[str, str]) -> str | None:
    """The token a request carries: `Authorization: Bearer T` or `X-Studio-Token: T`. Never
    the URL's query, which proxies and access logs keep."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return headers.get(TOKEN_HEADER) or None
