"""Shared fixtures: a local HTTP server, and small CIFAKE-layout folders and archives.

Everything here is small and synthetic; the one test that reads real data
(tests/test_pipeline_data.py) finds it in ../shared/data itself.
"""

from __future__ import annotations

import base64
import io
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@dataclass
class Route:
    """What the local server answers for one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None  # HTTP basic credentials the request must carry


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 that serves `routes` and records every request.

    Unknown paths answer 404; a route with `auth` answers 401 unless the request carries
    exactly those basic-auth credentials.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(SeenRequest(self.path, dict(self.headers.items())))
                route = owner.routes.get(self.path)
                if route is None:
                    self._answer(404, b"not found", {})
                elif route.auth and self.headers.get("Authorization") != _basic(*route.auth):
                    self._answer(401, b"unauthorized", {"WWW-Authenticate": 'Basic realm="t"'})
                else:
                    self._answer(route.status, route.body, route.headers)

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> str:
        """Answer GET `path` with body; return the full URL."""
        self.routes[path] = Route(body, status, headers or {}, auth)
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _basic(username: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode()


@pytest.fixture
def local_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A running LocalServer, shut down after the test; proxies are bypassed for loopback."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = LocalServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _image_bytes(rng: np.random.Generator, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "RGB").save(buffer, fmt)
    return buffer.getvalue()


WriteCifake = Callable[..., dict[str, list[Path]]]


@pytest.fixture
def write_cifake() -> WriteCifake:
    """Factory: write_cifake(root, {"train/REAL": 3, ...}, seed=0, fmt="PNG").

    Writes that many distinct 32x32 random images per folder (names 000.png, 001.png, ...;
    content depends on seed, folder and index) and returns the paths per folder.
    """

    def write(
        root: Path, counts: dict[str, int], *, seed: int = 0, fmt: str = "PNG"
    ) -> dict[str, list[Path]]:
        suffix = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp"}[fmt]
        written: dict[str, list[Path]] = {}
        for folder_index, (folder, count) in enumerate(counts.items()):
            directory = root / folder
            directory.mkdir(parents=True, exist_ok=True)
            paths = []
            for index in range(count):
                rng = np.random.default_rng([seed, folder_index, index])
                path = directory / f"{index:03d}{suffix}"
                path.write_bytes(_image_bytes(rng, fmt))
                paths.append(path)
            written[folder] = paths
        return written

    return write


Pack = Callable[[Path, Path], Path]


@pytest.fixture
def pack() -> Pack:
    """Factory: pack(folder, archive) stores folder's files in a .zip, .tar or .tar.gz archive.

    Member names are relative to folder, with forward slashes; returns the archive path.
    """

    def build(folder: Path, archive: Path) -> Path:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        archive.parent.mkdir(parents=True, exist_ok=True)
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive, "w") as handle:
                for path in files:
                    handle.write(path, path.relative_to(folder).as_posix())
        else:
            mode = "w:gz" if archive.name.endswith(".gz") else "w"
            with tarfile.open(archive, mode) as handle:
                for path in files:
                    handle.add(path, path.relative_to(folder).as_posix())
        return archive

    return build
