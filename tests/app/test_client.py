"""The web page's HTTP client against a tiny local stand-in for the BentoML service."""

from __future__ import annotations

import base64
import functools
import io
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP

import pytest
from PIL import Image

from fakeimage.app import client
from fakeimage.serving.schemas import Prediction
from tests.local_http import LocalServer, Route, SeenRequest


def _png(size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


IMAGE = _png()
OVERLAY = _png(32)
EXPLANATION = {"method": "occlusion", "png_base64": base64.b64encode(OVERLAY).decode()}
PREDICTION = {
    "label": "FAKE",
    "uncertain": False,
    "reasons": [],
    "prob_fake": 0.8125,
    "confidence": 0.8125,
    "threshold": 0.5,
    "model": {"name": "stub", "version": "7"},
    "input": {"width": 8, "height": 8, "mode": "RGB", "format": "PNG"},
    "warnings": [],
}


@dataclass
class Upload:
    path: str
    field: str | None
    filename: str | None
    content_type: str | None
    data: bytes
    form: dict[str, str] = field(default_factory=dict)


def _json(status: int, body: object) -> Route:
    return Route(json.dumps(body).encode(), status, {"Content-Type": "application/json"})


def _text(status: int, body: bytes, content_type: str, delay_s: float = 0.0) -> Route:
    return Route(body, status, {"Content-Type": content_type}, delay_s=delay_s)


def _parse_upload(request: SeenRequest) -> Upload:
    path, content_type = request.path, request.headers.get("Content-Type", "")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    form, image = {}, None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name == "image":
            image = part
        elif name:
            form[name] = part.get_payload(decode=True).decode()
    if image is None:
        return Upload(path, None, None, None, b"", form)
    return Upload(
        path,
        "image",
        image.get_filename(),
        image.get_content_type(),
        image.get_payload(decode=True),
        form,
    )


def _service_contract(request: SeenRequest) -> Route:
    """What the real service answers an upload it has no override for."""
    upload = _parse_upload(request)
    if upload.field is None:
        return _json(400, {"error": "missing multipart field 'image'"})
    if not upload.data.startswith(b"\x89PNG"):
        return _json(400, {"error": "not a readable image (expected JPEG, PNG)"})
    if request.path != "/predict":
        return _json(404, {"error": "not found"})
    if upload.form.get("explain") == "true":
        return _json(200, {**PREDICTION, "explanation": EXPLANATION})
    return _json(200, PREDICTION)


@dataclass
class StubService:
    """A local server that imitates the service's contract; `answers` override a path's."""

    server: LocalServer

    @property
    def url(self) -> str:
        return self.server.url("")

    @property
    def answers(self) -> dict[str, Route]:
        return self.server.routes

    @property
    def uploads(self) -> list[Upload]:
        return [_parse_upload(r) for r in self.server.requests if r.method == "POST"]


@pytest.fixture
def stub(local_server: LocalServer) -> StubService:
    local_server.serve("/readyz", json.dumps({"status": "ok"}).encode())
    local_server.on_post = _service_contract
    return StubService(local_server)


@pytest.fixture
def closed_url() -> Iterator[str]:
    """A loopback URL whose port is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


# --- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://127.0.0.1:3000", "http://127.0.0.1:3000"),
        ("  http://127.0.0.1:3000/ ", "http://127.0.0.1:3000"),
        ("localhost:3000", "http://localhost:3000"),
        ("https://detector.example/api/", "https://detector.example/api"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert client.normalize_url(given) == expected


@pytest.mark.parametrize("bad", ["", "   ", "ftp://host:21", "http://", "http://host:port"])
def test_normalize_url_refuses_nonsense(bad: str) -> None:
    with pytest.raises(ValueError, match="service URL"):
        client.normalize_url(bad)


def test_service_url_from_env_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(client.SERVICE_URL_ENV, raising=False)
    assert client.service_url() == "http://127.0.0.1:3000"
    monkeypatch.setenv(client.SERVICE_URL_ENV, "http://10.1.2.3:8080/")
    assert client.service_url() == "http://10.1.2.3:8080"
    monkeypatch.setenv(client.SERVICE_URL_ENV, "")
    assert client.service_url() == "http://127.0.0.1:3000"


# --- the contract ---------------------------------------------------------------------------


def test_predict_sends_one_multipart_image_and_returns_the_answer(stub: StubService) -> None:
    answer = client.predict(stub.url + "/", "cat photo.png", IMAGE)
    assert answer == Prediction.model_validate(PREDICTION) and answer.explanation is None
    [upload] = stub.uploads
    assert upload == Upload("/predict", "image", "cat photo.png", "image/png", IMAGE)


def test_predict_guesses_the_content_type_from_the_name(stub: StubService) -> None:
    stub.answers["/predict"] = _json(200, PREDICTION)
    client.predict(stub.url, "a.JPG", b"jpeg bytes")
    client.predict(stub.url, "no-extension", b"raw")
    assert [u.content_type for u in stub.uploads] == ["image/jpeg", "application/octet-stream"]


def test_predict_brings_the_explanation_in_the_same_request(stub: StubService) -> None:
    answer = client.predict(stub.url, "x.png", IMAGE, explain=True)
    [upload] = stub.uploads
    assert upload.path == "/predict" and upload.form == {"explain": "true"}
    assert answer.label == "FAKE" and answer.explanation is not None
    assert base64.b64decode(answer.explanation.png_base64) == OVERLAY


def test_is_ready(stub: StubService) -> None:
    assert client.is_ready(stub.url) is True
    stub.answers["/readyz"] = _text(503, b"Runners are not ready.", "text/plain")
    assert client.is_ready(stub.url) is False


CALLS = [client.predict, functools.partial(client.predict, explain=True)]


# --- bad uploads: the service's own message -------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_bad_upload_carries_the_service_message(stub: StubService, call) -> None:
    with pytest.raises(client.BadUpload) as caught:
        call(stub.url, "notes.png", b"plain text, not an image")
    assert caught.value.status == 400
    assert caught.value.message == "not a readable image (expected JPEG, PNG)"
    assert str(caught.value) == caught.value.message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": "image too large"}, "image too large"),
        ({"detail": "Unsupported media type"}, "Unsupported media type"),
        (
            {"detail": [{"loc": ["body", "image"], "msg": "Field required", "type": "missing"}]},
            "image: Field required",
        ),
        ({"message": "nope"}, "nope"),
        ({"error": {"message": "nested"}}, "nested"),
    ],
)
def test_bad_upload_message_shapes(stub: StubService, body: object, expected: str) -> None:
    stub.answers["/predict"] = _json(422, body)
    with pytest.raises(client.BadUpload, match="^" + expected + "$"):
        client.predict(stub.url, "x.png", IMAGE)


def test_bad_upload_plain_text_is_shortened_to_one_line(stub: StubService) -> None:
    stub.answers["/predict"] = _text(413, b"Payload\n  too large " + b"x" * 2000, "text/html")
    with pytest.raises(client.BadUpload) as caught:
        client.predict(stub.url, "x.png", IMAGE)
    assert caught.value.status == 413
    assert caught.value.message.startswith("Payload too large xxx")
    assert len(caught.value.message) == client.MAX_MESSAGE_CHARS


# --- the service misbehaves -----------------------------------------------------------------


def test_server_error_is_a_service_error_not_a_bad_upload(stub: StubService) -> None:
    stub.answers["/predict"] = _json(500, {"error": "model exploded"})
    with pytest.raises(client.ServiceError) as caught:
        client.predict(stub.url, "x.png", IMAGE)
    assert type(caught.value) is client.ServiceError
    assert caught.value.status == 500
    assert "HTTP 500" in caught.value.message and "model exploded" in caught.value.message


@pytest.mark.parametrize(
    "answer",
    [
        _text(200, b"<html>hello</html>", "text/html"),
        _json(200, {**PREDICTION, "label": "MAYBE"}),
        _json(200, {**PREDICTION, "prob_fake": "high"}),
        _json(200, {"label": "FAKE"}),
        _json(200, ["FAKE", 0.9]),
    ],
)
def test_predict_refuses_answers_outside_the_contract(stub: StubService, answer: Route) -> None:
    stub.answers["/predict"] = answer
    with pytest.raises(client.ServiceError, match="/predict") as caught:
        client.predict(stub.url, "x.png", IMAGE)
    assert type(caught.value) is client.ServiceError


# --- nothing answers ------------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_closed_port_is_service_unavailable(closed_url: str, call) -> None:
    with pytest.raises(client.ServiceUnavailable) as caught:
        call(closed_url, "x.png", IMAGE)
    assert caught.value.url == closed_url
    assert "connection refused" in caught.value.reason
    assert str(caught.value).startswith(f"cannot reach the detection service at {closed_url}")


def test_is_ready_on_closed_port_is_service_unavailable(closed_url: str) -> None:
    with pytest.raises(client.ServiceUnavailable, match="connection refused"):
        client.is_ready(closed_url)


def test_slow_service_times_out_within_the_bound(stub: StubService) -> None:
    # the stub answers well after the bound: an answer instead of the error means no bound
    stub.answers["/predict"] = _text(200, json.dumps(PREDICTION).encode(), "x", delay_s=3)
    with pytest.raises(client.ServiceUnavailable, match=r"no answer within 0\.5 s"):
        client.predict(stub.url, "x.png", IMAGE, timeout=0.5)


def test_loopback_service_ignores_proxy_settings(
    stub: StubService, closed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, closed_url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert client.predict(stub.url, "x.png", IMAGE).label == "FAKE"
    assert client.is_ready(stub.url.replace("127.0.0.1", "localhost")) is True
