"""The request guard: clear 4xx answers for requests BentoML cannot parse, before and after.

An ASGI middleware on the public service. It bounds each request body before any of it is
read (so an upload is never held in memory beyond the limits) and turns BentoML's own answers
to unparseable requests into the service's error shape (`serving.errors`). It also counts the
requests it is guarding (`requests_in_flight`), so an endpoint knows when it is alone.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

from starlette.responses import JSONResponse

from fakeimage.serving.errors import (
    FEEDBACK_USAGE,
    RequestError,
    error_body,
    feedback_problem,
    megabytes,
    missing_upload_message,
)

logger = logging.getLogger("bentoml.fakeimage")

MULTIPART_SLACK = 64 * 1024
"""Room for multipart boundaries and part headers on top of the file size limit."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_HANDLER_REACHED: ContextVar[list[bool] | None] = ContextVar("fakeimage_reached", default=None)
_IN_FLIGHT = [0]  # guarded requests in progress; only the event loop's thread touches it


def requests_in_flight() -> int:
    """How many guarded requests this process is serving now, the caller's included: counted
    from their first byte, before BentoML parses them."""
    return _IN_FLIGHT[0]


def mark_request_parsed() -> None:
    """Called first thing by an endpoint: BentoML parsed the request, so errors are ours now."""
    holder = _HANDLER_REACHED.get()
    if holder is not None:
        holder[0] = True


class RequestGuardMiddleware:
    """Clear 4xx answers for requests BentoML cannot parse, before and after it tries.

    For each guarded POST path (`limits` maps it to its largest body in bytes):
    - a body that is not multipart/form-data is refused with 415;
    - a declared Content-Length over the limit is refused with 413 before the body is read;
      a body without one (chunked) is counted as it streams, and once over the limit the app
      sees the body end and its answer is replaced by the 413;
    - a 500 answered before the endpoint ran (see `mark_request_parsed`) is a request BentoML
      could not parse (malformed multipart, a text field or URL where a file belongs, too many
      parts): it becomes a 400 that says so.
    """

    def __init__(self, app: ASGIApp, limits: Mapping[str, int]) -> None:
        self.app = app
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        field_name = "images" if "batch" in scope["path"] else "image"
        if scope["path"] == "/feedback":
            field_name = "feedback"
        content_type = _header(scope, b"content-type") or ""
        if content_type.split(";")[0].strip().lower() != "multipart/form-data":
            message = (
                FEEDBACK_USAGE if field_name == "feedback" else missing_upload_message(field_name)
            )
            await _send_json(send, 415, f"{message}; got Content-Type {content_type or 'none'!r}")
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, _body_too_large(int(declared), limit))
            return
        received = 0
        over = False
        replaced = False  # our own answer was sent instead of the app's
        reached = [False]

        async def limited_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        held: list[bytes] | None = None  # body of an unparsed-request answer being replaced
        held_status = 0

        async def guarded_send(message: Message) -> None:
            nonlocal replaced, held, held_status
            if replaced:
                return
            if message["type"] == "http.response.start":
                if over:
                    replaced = True
                    await _send_json(send, 413, _body_too_large(None, limit))
                    return
                if not reached[0] and message.get("status") in (400, 500):
                    held, held_status = [], int(message["status"])
                    return
            elif held is not None and message["type"] == "http.response.body":
                held.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    replaced = True
                    await _send_json(send, 400, *_unparsed(field_name, held_status, held))
                return
            await send(message)

        token = _HANDLER_REACHED.set(reached)
        _IN_FLIGHT[0] += 1
        try:
            await self.app(scope, limited_receive, guarded_send)
        finally:
            _IN_FLIGHT[0] -= 1
            _HANDLER_REACHED.reset(token)
        if over and not replaced:
            await _send_json(send, 413, _body_too_large(None, limit))


def _unparsed(field_name: str, status: int, body: list[bytes]) -> tuple[str, Any]:
    """Message and detail for a request that BentoML refused before the endpoint ran."""
    if status == 400:  # pydantic validation: usually the file field is missing
        try:
            detail = json.loads(b"".join(body)).get("detail")
        except (ValueError, AttributeError):
            detail = None
        if field_name == "feedback":
            return feedback_problem(detail), None
        return missing_upload_message(field_name), detail
    logger.warning("BentoML could not parse a request for field %r", field_name)
    message = (
        f"the request could not be read as an upload: send each image as a file in "
        f"multipart/form-data field '{field_name}' (not under another name, not as a text "
        f"field or a URL), for example curl -F {field_name}=@photo.jpg URL"
    )
    return message, None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _body_too_large(size: int | None, limit: int) -> str:
    what = f"is {megabytes(size)}" if size is not None else "grew"
    return (
        f"the request body {what}, over the limit of {megabytes(limit)} for this endpoint; "
        "send smaller files (or fewer per request)"
    )


async def _send_json(send: Send, status: int, message: str, detail: Any = None) -> None:
    body = json.dumps(error_body(status, message, detail=detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


Endpoint = Callable[..., Awaitable[Any]]


def answers_request_errors(endpoint: Endpoint) -> Endpoint:
    """The one error path of every endpoint: a RequestError becomes its 4xx JSON answer."""

    @functools.wraps(endpoint)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        mark_request_parsed()
        try:
            return await endpoint(*args, **kwargs)
        except RequestError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)

    return guarded
