"""HTTP client for the BentoML detection service (`make serve`), used by the web page.

The service's contract:

- ``POST /predict`` with one multipart file field ``image`` (and ``explain=true``) answers
  the JSON of :class:`fakeimage.serving.schemas.Prediction`, the verdict and its occlusion
  map in one request; a bad upload answers 4xx with an error message.
- ``POST /feedback`` (fields ``request_id``, ``label``, optional ``source``, and ``image`` with
  ``consent=true``) reports a wrong verdict;
- ``GET /readyz`` answers 200 once the model is loaded.

Every call is bounded by a timeout. Failures surface as three exceptions the page can show
as they are: :class:`ServiceUnavailable` (nothing answers at the URL, or it answers too
slowly), :class:`BadUpload` (the service refused the file, with its own message) and
:class:`ServiceError` (anything else the service got wrong).
"""

from __future__ import annotations

import ipaddress
import mimetypes
import os
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import ValidationError

from fakeimage.serving.schemas import Prediction

SERVICE_URL_ENV = "FAKEIMAGE_SERVICE_URL"
DEFAULT_SERVICE_URL = "http://127.0.0.1:3000"

CONNECT_TIMEOUT_S = 3.0
"""How long to wait for the TCP connection: a local service accepts at once or not at all."""

PREDICT_TIMEOUT_S = 60.0
"""How long to wait for an answer to /predict (the first call warms the model up)."""

READY_TIMEOUT_S = 2.0
"""How long the readiness probe waits, connect and answer each."""

MAX_MESSAGE_CHARS = 500
"""Server messages longer than this are cut, so a stray HTML page cannot flood the page."""


class ServiceError(Exception):
    """The service answered, but not with what the contract promises (e.g. HTTP 500)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ServiceUnavailable(ServiceError):
    """Nothing answers at the service URL: connection refused, host unknown, or a timeout."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the detection service at {url}: {reason}")
        self.url = url
        self.reason = reason


class BadUpload(ServiceError):
    """The service refused the uploaded file (HTTP 4xx); `message` is the service's own words."""


def service_url() -> str:
    """The configured service URL: env FAKEIMAGE_SERVICE_URL, else http://127.0.0.1:3000."""
    return normalize_url(os.environ.get(SERVICE_URL_ENV, "") or DEFAULT_SERVICE_URL)


def normalize_url(url: str) -> str:
    """Strip blanks and trailing slashes and add ``http://`` when no scheme is given.

    Raises ValueError for something that cannot be an http(s) service URL.
    """
    text = url.strip()
    if not text:
        raise ValueError("the service URL is empty")
    if "://" not in text:
        text = f"http://{text}"
    text = text.rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the service URL must start with http:// or https://, not {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"the service URL has an invalid port: {url!r}") from None
    if not parts.hostname:
        raise ValueError(f"the service URL names no host: {url!r}")
    return text


def predict(
    url: str,
    name: str,
    data: bytes,
    *,
    explain: bool = False,
    timeout: float = PREDICT_TIMEOUT_S,
) -> Prediction:
    """Score one image (with its occlusion map when `explain`): the service's validated answer."""
    form = {"explain": "true"} if explain else None
    response = _post_image(url, "/predict", name, data, timeout, form)
    try:
        return Prediction.model_validate_json(response.content)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "the answer"
        raise ServiceError(
            f"the service answered /predict outside its contract ({where}: {problem['msg']}): "
            f"{_shorten(response.text)!r}",
            status=response.status_code,
        ) from None


def report_wrong(
    url: str,
    request_id: str,
    label: str,
    *,
    source: str = "",
    image: tuple[str, bytes] | None = None,
    timeout: float = PREDICT_TIMEOUT_S,
) -> dict[str, Any]:
    """POST /feedback: the answer `request_id` was wrong, the image is `label` (REAL or FAKE);
    `image` (name, bytes) is sent only when given, which the caller does with consent."""
    parts: dict[str, Any] = {"request_id": (None, request_id), "label": (None, label)}
    if source:
        parts["source"] = (None, source)
    if image is not None:
        name, data = image
        parts["consent"] = (None, "true")
        parts["image"] = (name, data, mimetypes.guess_type(name)[0] or "application/octet-stream")
    response = _post(url, "/feedback", parts, None, timeout)
    try:
        return response.json()
    except ValueError:
        raise ServiceError(
            f"the service answered /feedback with something other than JSON: "
            f"{_shorten(response.text)!r}",
            status=response.status_code,
        ) from None


def is_ready(url: str, *, timeout: float = READY_TIMEOUT_S) -> bool:
    """True when GET /readyz answers 200, False when the service answers anything else.

    Raises ServiceUnavailable when nothing answers at all.
    """
    base = normalize_url(url)
    try:
        with _session(base) as session:
            response = session.get(f"{base}/readyz", timeout=(timeout, timeout))
    except requests.RequestException as exc:
        raise ServiceUnavailable(base, _reason(exc, timeout)) from None
    return response.status_code == 200


def _post_image(
    url: str, path: str, name: str, data: bytes, timeout: float, form: dict[str, str] | None
) -> requests.Response:
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return _post(url, path, {"image": (name or "upload", data, content_type)}, form, timeout)


def _post(
    url: str, path: str, files: dict[str, Any], form: dict[str, str] | None, timeout: float
) -> requests.Response:
    """A multipart POST: the answer if 200, else BadUpload (4xx) or ServiceError."""
    base = normalize_url(url)
    try:
        with _session(base) as session:
            response = session.post(
                f"{base}{path}",
                files=files,
                data=form,
                timeout=(min(CONNECT_TIMEOUT_S, timeout), timeout),
            )
    except requests.RequestException as exc:
        raise ServiceUnavailable(base, _reason(exc, timeout)) from None
    if 400 <= response.status_code < 500:
        raise BadUpload(error_message(response), status=response.status_code)
    if response.status_code != 200:
        raise ServiceError(
            f"the service failed on {path} (HTTP {response.status_code}): "
            f"{error_message(response)}",
            status=response.status_code,
        )
    return response


def _session(base: str) -> requests.Session:
    """A session that ignores proxy settings for a service on this machine."""
    session = requests.Session()
    host = urlsplit(base).hostname or ""
    if host == "localhost" or _is_loopback(host):
        session.trust_env = False
    return session


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(exc: requests.RequestException, timeout: float) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, requests.ConnectionError):
        text = str(exc)
        if "Connection refused" in text or "Errno 111" in text:
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text:
            return "unknown host name"
        return "the connection failed"
    return type(exc).__name__


def error_message(response: requests.Response) -> str:
    """The service's own error message from a failed response, in one line.

    Understands BentoML's ``{"error": "..."}``, FastAPI-style ``{"detail": ...}`` (a string or
    a list of validation errors) and ``{"message": "..."}``; otherwise the body's text.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    message = _message_from_json(body) if body is not None else None
    if not message:
        message = response.text.strip() or response.reason or f"HTTP {response.status_code}"
    return _shorten(" ".join(message.split()))


def _message_from_json(body: Any) -> str | None:
    if isinstance(body, str):
        return body
    if not isinstance(body, dict):
        return None
    for key in ("error", "detail", "message"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict):
            nested = _message_from_json(value)
            if nested:
                return nested
        if isinstance(value, list) and value:
            parts = []
            for item in value:
                if isinstance(item, dict) and "msg" in item:
                    where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                    parts.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
                else:
                    parts.append(str(item))
            return "; ".join(parts)
    return None


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
