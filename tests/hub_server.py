"""A local stand-in for the Hugging Face Hub: serves model repos the way the hub does.

Only the endpoints a download needs: repo info, the recursive file tree, and
HEAD/GET on `resolve` with the hub's headers and byte ranges. Binds 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".msgpack", ".onnx", ".ckpt", ".pt", ".h5")


@dataclass
class ServedRepo:
    files: dict[str, bytes]
    commit: str = ""

    def __post_init__(self) -> None:
        if not self.commit:
            digest = hashlib.sha1()
            for path in sorted(self.files):
                digest.update(path.encode() + b"\0" + self.files[path])
            self.commit = digest.hexdigest()

    @classmethod
    def from_folder(cls, folder: Path) -> ServedRepo:
        files = {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }
        return cls(files)


def point_hf_at(server: HubServer, hf_home: Path, monkeypatch: Any) -> None:
    """A fresh HF_HOME, plain HTTP (no Xet) and the hub endpoint at `server`, for one test."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    # huggingface_hub reads HF_HUB_OFFLINE once, at import; the test suite sets it to 1
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


def git_oid(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@dataclass
class HubLog:
    """What the server saw: (method, path, Range header or "")."""

    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def gets(self, file_path: str) -> list[str]:
        """The Range headers of the GETs of one repo file ("" for a whole-file GET)."""
        return [
            rng
            for method, path, rng in self.requests
            if method == "GET" and "/resolve/" in path and path.endswith("/" + file_path)
        ]


class HubServer:
    """Serves repos on 127.0.0.1:<free port>. Use as a context manager."""

    def __init__(self) -> None:
        self.repos: dict[str, ServedRepo] = {}
        self.log = HubLog()
        # file path -> bytes of that file to send before cutting the connection
        self.drop_after: dict[str, int] = {}
        self.drops_left = 0  # how many times drop_after applies (then serves normally)
        self.ranges = True  # False: ignore Range and always send the whole file
        self.redirect_lfs = False  # True: LFS files redirect to /cdn/<sha256>, as the hub does
        self.pause_s = 0.0  # a slow link: pause this long after each 8 KiB of a file
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> HubServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def take_drop(self, path: str) -> int | None:
        with self._lock:
            if path in self.drop_after and self.drops_left > 0:
                self.drops_left -= 1
                return self.drop_after[path]
        return None


_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<sub>.+))?$")
_CDN = re.compile(r"^/cdn/(?P<sha>[0-9a-f]{64})$")
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _handler_for(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

        def do_HEAD(self) -> None:
            self._serve(head=True)

        def do_GET(self) -> None:
            self._serve(head=False)

        def _serve(self, *, head: bool) -> None:
            url = urlsplit(self.path)
            path = unquote(url.path)
            hub.log.requests.append((self.command, path, self.headers.get("Range", "")))
            if match := _TREE.match(path):
                self._tree(match["repo"], match["rev"], url.query)
            elif match := _INFO.match(path):
                self._info(match["repo"], match["rev"])
            elif match := _RESOLVE.match(path):
                self._resolve(match["repo"], match["rev"], match["path"], head=head)
            elif match := _CDN.match(path):
                self._cdn(match["sha"], head=head)
            else:
                self._error(404, "EntryNotFound", "No such endpoint")

        def _repo(self, repo_id: str, rev: str | None) -> ServedRepo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
                return None
            if rev not in (None, "main", repo.commit):
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return None
            return repo

        def _info(self, repo_id: str, rev: str | None) -> None:
            repo = self._repo(repo_id, rev)
            if repo is None:
                return
            body = {
                "_id": "0" * 24,
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo.commit,
                "private": False,
                "disabled": False,
                "gated": False,
                "downloads": 0,
                "likes": 0,
                "tags": ["diffusers"],
                "library_name": "diffusers",
                "siblings": [{"rfilename": p} for p in sorted(repo.files)],
            }
            self._json(body, {"X-Repo-Commit": repo.commit})

        def _tree(self, repo_id: str, rev: str, query: str) -> None:
            repo = self._repo(repo_id, rev)
            if repo is None:
                return
            entries: list[dict[str, object]] = []
            folders = sorted({p.rsplit("/", 1)[0] for p in repo.files if "/" in p})
            recursive = "recursive=True" in query or "recursive=true" in query
            for folder in folders:
                if recursive or "/" not in folder:
                    entries.append({"type": "directory", "oid": git_oid(folder.encode()),
                                    "path": folder})
            for file_path, data in sorted(repo.files.items()):
                if not recursive and "/" in file_path:
                    continue
                entry: dict[str, object] = {"type": "file", "path": file_path, "size": len(data)}
                if is_lfs(file_path):
                    pointer = (
                        "version https://git-lfs.github.com/spec/v1\n"
                        f"oid sha256:{hashlib.sha256(data).hexdigest()}\nsize {len(data)}\n"
                    ).encode()
                    entry["oid"] = git_oid(pointer)
                    entry["lfs"] = {
                        "oid": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "pointerSize": len(pointer),
                    }
                else:
                    entry["oid"] = git_oid(data)
                entries.append(entry)
            self._json(entries, {})

        def _resolve(self, repo_id: str, rev: str, file_path: str, *, head: bool) -> None:
            repo = self._repo(repo_id, rev)
            if repo is None:
                return
            data = repo.files.get(file_path)
            if data is None:
                self._error(404, "EntryNotFound", f"{file_path} does not exist on {rev}")
                return
            headers = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes"}
            if is_lfs(file_path):
                sha = hashlib.sha256(data).hexdigest()
                headers["ETag"] = f'"{git_oid(data)}"'
                headers["X-Linked-Etag"] = f'"{sha}"'
                headers["X-Linked-Size"] = str(len(data))
            else:
                headers["ETag"] = f'"{git_oid(data)}"'
            if hub.redirect_lfs and is_lfs(file_path):
                self.send_response(302)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Location", f"/cdn/{hashlib.sha256(data).hexdigest()}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send_file(file_path, data, headers, head=head)

        def _cdn(self, sha: str, *, head: bool) -> None:
            for repo in hub.repos.values():
                for file_path, data in repo.files.items():
                    if hashlib.sha256(data).hexdigest() == sha:
                        self._send_file(file_path, data, {"Accept-Ranges": "bytes"}, head=head)
                        return
            self._error(404, "EntryNotFound", "No such blob")

        def _send_file(
            self, file_path: str, data: bytes, headers: dict[str, str], *, head: bool
        ) -> None:
            start, status = 0, 200
            match = _RANGE.match(self.headers.get("Range", ""))
            if match and hub.ranges:
                start = int(match[1])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            body = data[start:]
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            cut = hub.take_drop(file_path)
            if cut is not None:
                self.wfile.write(body[: max(0, cut - start)])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # the peer sees the body end early
                return
            if hub.pause_s <= 0:
                self.wfile.write(body)
                return
            for start in range(0, len(body), 8192):
                self.wfile.write(body[start : start + 8192])
                self.wfile.flush()
                time.sleep(hub.pause_s)

        def _json(self, body: object, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            data = json.dumps({"error": message}).encode()
            self.send_response(status)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

    return Handler
