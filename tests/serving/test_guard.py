"""The request guard, driven as an ASGI middleware around a stand-in app (no server)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fakeimage.serving.guard import (
    RequestGuardMiddleware,
    mark_request_parsed,
    requests_in_flight,
)


class FakeApp:
    """An ASGI app that reads the whole body, then answers `status` (marking parse first)."""

    def __init__(self, status: int = 200, mark: bool = True, body: bytes = b"{}") -> None:
        self.status, self.mark, self.body = status, mark, body
        self.received = b""
        self.called = False

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        self.called = True
        while True:
            message = await receive()
            self.received += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.mark:
            mark_request_parsed()
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


def call_guard(
    app: FakeApp, chunks: list[bytes], headers: dict[str, str], path: str = "/predict"
) -> tuple[int, dict]:
    guard = RequestGuardMiddleware(app, {"/predict": 100, "/predict_batch": 1000})
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0)

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)


MULTIPART = {"content-type": "multipart/form-data; boundary=x"}


def test_guard_passes_good_requests() -> None:
    app = FakeApp()
    assert call_guard(app, [b"a" * 50, b"b" * 50], MULTIPART) == (200, {})
    assert app.received == b"a" * 50 + b"b" * 50


def test_guard_refuses_declared_oversized_bodies_unread() -> None:
    app = FakeApp()
    status, body = call_guard(app, [b"a" * 200], {**MULTIPART, "content-length": "200"})
    assert status == 413 and "over the limit" in body["error"] and not app.called


def test_guard_counts_streamed_bodies() -> None:
    app = FakeApp()
    status, body = call_guard(app, [b"a" * 60, b"b" * 60, b"c" * 60], MULTIPART)
    assert status == 413 and "over the limit" in body["error"]
    assert len(app.received) == 60  # the app saw the body end at the limit
    batch = FakeApp()
    assert call_guard(batch, [b"a" * 600], MULTIPART, "/predict_batch")[0] == 200


def test_guard_wants_multipart() -> None:
    app = FakeApp()
    status, body = call_guard(app, [b"{}"], {"content-type": "application/json"})
    assert status == 415 and "multipart/form-data field 'image'" in body["error"]
    assert not app.called


def test_guard_explains_requests_bentoml_could_not_parse() -> None:
    error = json.dumps({"error": "x", "detail": [{"loc": ["image"], "msg": "Field required"}]})
    status, body = call_guard(FakeApp(400, mark=False, body=error.encode()), [b""], MULTIPART)
    assert status == 400 and body["error"].startswith("no image")
    assert body["detail"][0]["msg"] == "Field required"
    status, body = call_guard(FakeApp(500, mark=False), [b""], MULTIPART)
    assert status == 400 and "as a file" in body["error"]
    # once the endpoint ran, its answers pass untouched (a real 500 stays a 500)
    assert call_guard(FakeApp(500, mark=True), [b""], MULTIPART)[0] == 500


def test_the_guard_counts_the_requests_in_progress() -> None:
    """What /predict reads to know it is alone: the request itself while it runs, then none."""
    seen: list[int] = []

    class CountingApp(FakeApp):
        async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
            seen.append(requests_in_flight())
            await super().__call__(scope, receive, send)

    multipart = {"Content-Type": "multipart/form-data; boundary=x"}
    assert call_guard(CountingApp(), [b"ok"], multipart)[0] == 200
    assert call_guard(CountingApp(status=500, mark=False), [b"ok"], multipart)[0] == 400
    assert seen == [1, 1] and requests_in_flight() == 0
