"""A local HTTP server for tests: fixed answers per path, every request recorded.

It stands in for what sits across a network (a dataset host, Kaggle's API, the detection
service as the page's client sees it); conftest's `local_server` fixture runs one per test.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What the local server answers for one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None  # HTTP basic credentials the request must carry
    delay_s: float = 0.0  # wait this long before answering (a slow server, for client timeouts)


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]
    method: str = "GET"
    body: bytes = b""


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 that serves `routes` and records every request.

    Unknown paths answer 404, or, for a POST, what `on_post(request)` returns when it is set
    (a stand-in service's logic); a route with `auth` answers 401 unless the request carries
    exactly those basic-auth credentials.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self.on_post: Callable[[SeenRequest], Route] | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(SeenRequest(self.path, dict(self.headers.items())))

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._reply(SeenRequest(self.path, dict(self.headers.items()), "POST", body))

            def _reply(self, request: SeenRequest) -> None:
                owner.requests.append(request)
                route = owner.routes.get(self.path)
                if route is None and request.method == "POST" and owner.on_post is not None:
                    route = owner.on_post(request)
                if route is None:
                    route = Route(b"not found", 404)
                elif route.auth and self.headers.get("Authorization") != _basic(*route.auth):
                    route = Route(b"unauthorized", 401, {"WWW-Authenticate": 'Basic realm="t"'})
                time.sleep(route.delay_s)
                try:
                    self.send_response(route.status)
                    for name, value in route.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
                    pass

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
