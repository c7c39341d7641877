"""Unit tests of the serving logic that needs no server: limits, uploads, warnings, answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from serving_samples import bad_samples, encode, noise, valid_samples

from fakeimage.data.images import DEFAULT_MAX_PIXELS, load_model_input
from fakeimage.errors import UserError
from fakeimage.serving.predictions import (
    MB,
    FilePrediction,
    ModelInfo,
    Prediction,
    PreparedImage,
    RequestError,
    RequestGuardMiddleware,
    ServingConfig,
    build_prediction,
    input_warnings,
    mark_request_parsed,
    prepare_image,
    prepare_upload,
    prepare_uploads,
    read_upload,
    upload_name,
    upload_tmpdir,
    verdict,
)

MODEL = ModelInfo("detector", "3", 0.6, "test")


# ----------------------------------------------------------------------------- configuration


def test_config_defaults_and_environment() -> None:
    assert ServingConfig.from_env({}) == ServingConfig()
    assert ServingConfig().max_upload_bytes == 8 * MB
    assert ServingConfig().max_pixels == DEFAULT_MAX_PIXELS
    config = ServingConfig.from_env(
        {
            "FAKEIMAGE_MAX_UPLOAD_MB": "0.5",
            "FAKEIMAGE_MAX_PIXELS": "1000",
            "FAKEIMAGE_MAX_BATCH_FILES": "4",
            "FAKEIMAGE_BATCH_SIZE": "32",
            "FAKEIMAGE_BATCH_LATENCY_MS": "20",
            "FAKEIMAGE_MODEL_THREADS": "2",
            "FAKEIMAGE_BATCH_THREADS": "1",
        }
    )
    assert config.max_upload_bytes == MB // 2
    assert (config.max_pixels, config.max_batch_files) == (1000, 4)
    assert (config.batch_size, config.batch_latency_ms) == (32, 20)
    assert (config.model_threads, config.batch_threads) == (2, 1)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FAKEIMAGE_MAX_UPLOAD_MB", "lots"),
        ("FAKEIMAGE_BATCH_SIZE", "1"),
        ("FAKEIMAGE_BATCH_THREADS", "-1"),
    ],
)
def test_config_rejects_bad_values(name: str, value: str) -> None:
    with pytest.raises(UserError, match=name):
        ServingConfig.from_env({name: value})


# ----------------------------------------------------------------------------- uploads


def test_read_upload_returns_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"12345")
    assert read_upload(path, max_bytes=5) == b"12345"


class UnreadableHandle:
    """A file handle that knows its size but fails the test if anything is read from it."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def __enter__(self) -> UnreadableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def fileno(self) -> int:
        return self.handle.fileno()

    def read(self, *args: object) -> bytes:
        raise AssertionError("the oversized upload was read")


def test_read_upload_refuses_oversized_files_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(b"x" * 2000)
    real_open = Path.open
    monkeypatch.setattr(
        Path, "open", lambda self, *a, **k: UnreadableHandle(real_open(self, *a, **k))
    )
    with pytest.raises(RequestError) as caught:
        read_upload(path, max_bytes=1000, name="big.jpg")
    assert caught.value.status == 413
    assert "big.jpg" in caught.value.message and "over the upload limit" in caught.value.message


def test_read_upload_refuses_empty_files(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(RequestError) as caught:
        read_upload(path, max_bytes=1000)
    assert caught.value.status == 422 and "empty" in caught.value.message


def test_upload_name_recovers_the_client_file_name() -> None:
    assert upload_name(Path("/tmp/x/tmpa1b2_c3dcat photo.jpg")) == "cat photo.jpg"
    assert upload_name(Path("/tmp/x/other.png")) == "other.png"


def test_prepare_uploads_names_the_bad_file(tmp_path: Path) -> None:
    good = tmp_path / "tmpaaaaaaaagood.png"
    good.write_bytes(encode(noise(32, 32), "PNG"))
    bad = tmp_path / "tmpbbbbbbbbbad.jpg"
    bad.write_bytes(b"<html>")
    assert len(prepare_uploads([good, good], ServingConfig())) == 2
    with pytest.raises(RequestError) as caught:
        prepare_uploads([good, bad, good], ServingConfig())
    assert caught.value.status == 415
    assert caught.value.body() == {
        "error": caught.value.message,
        "status": 415,
        "file": "bad.jpg",
        "index": 1,
    }
    assert "file #2 (bad.jpg)" in caught.value.message


def test_prepare_uploads_limits_the_number_of_files(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(encode(noise(32, 32), "PNG"))
    with pytest.raises(RequestError) as caught:
        prepare_uploads([path] * 3, ServingConfig(max_batch_files=2))
    assert caught.value.status == 413 and "3 files" in caught.value.message
    with pytest.raises(RequestError) as caught:
        prepare_uploads([], ServingConfig())
    assert caught.value.status == 400 and "images" in caught.value.message


# ----------------------------------------------------------------------------- images


@pytest.mark.parametrize("sample", valid_samples(), ids=lambda s: s.name)
def test_valid_images_are_preprocessed_exactly_as_in_training(sample: Any) -> None:
    prepared = prepare_image(sample.data)
    assert prepared.pixels.shape == (32, 32, 3) and prepared.pixels.dtype == np.uint8
    np.testing.assert_array_equal(prepared.pixels, load_model_input(sample.data))
    assert set(prepared.input) == {"width", "height", "mode", "format"}
    if sample.warning is None:
        assert prepared.warnings == [], prepared.warnings
    else:
        assert any(sample.warning in warning for warning in prepared.warnings), prepared.warnings


@pytest.mark.parametrize("sample", bad_samples(), ids=lambda s: s.name)
def test_bad_images_raise_request_errors(sample: Any) -> None:
    with pytest.raises(RequestError) as caught:
        prepare_image(sample.data, name=sample.name)
    assert caught.value.status == sample.status, caught.value.message
    assert sample.fragment in caught.value.message
    assert caught.value.message.startswith(sample.name)


def test_pixel_limit_is_configurable() -> None:
    data = encode(noise(40, 40), "PNG")
    with pytest.raises(RequestError) as caught:
        prepare_image(data, max_pixels=1000)
    assert caught.value.status == 413 and "1,600" in caught.value.message


def test_prepare_upload_checks_size_then_decodes(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(encode(noise(32, 32), "PNG"))
    assert prepare_upload(path, ServingConfig()).input["format"] == "PNG"
    with pytest.raises(RequestError) as caught:
        prepare_upload(path, ServingConfig(max_upload_bytes=100))
    assert caught.value.status == 413


def test_warnings_for_size_and_aspect() -> None:
    assert input_warnings(noise(32, 32)) == []
    assert input_warnings(noise(60, 60)) == []  # within 2x of 32x32: no warning
    (tiny,) = input_warnings(noise(8, 8))
    assert tiny.startswith("the detector saw only 32x32 images; this image was up-scaled from 8x8")
    wide = input_warnings(noise(8, 200))
    assert any("down-scaled from 200x8" in w for w in wide)
    assert any("up-scaled from 200x8" in w for w in wide)
    assert any("not square (200x8)" in w for w in wide)


# ----------------------------------------------------------------------------- answers


def test_verdict_uses_the_threshold_and_reports_confidence_of_the_label() -> None:
    assert verdict(0.6, 0.6) == ("FAKE", 0.6)
    label, confidence = verdict(0.59, 0.6)
    assert label == "REAL" and confidence == pytest.approx(0.41)
    assert verdict(0.9, 0.5) == ("FAKE", 0.9)


def test_build_prediction() -> None:
    prepared = PreparedImage(
        np.zeros((32, 32, 3), np.uint8),
        {"width": 1, "height": 1, "mode": "RGB", "format": "PNG"},
        ["up-scaled"],
    )
    answer = build_prediction(np.float32(0.25), MODEL, prepared)
    assert answer == {
        "label": "REAL",
        "prob_fake": 0.25,
        "confidence": 0.75,
        "threshold": 0.6,
        "model": {"name": "detector", "version": "3"},
        "input": {"width": 1, "height": 1, "mode": "RGB", "format": "PNG"},
        "warnings": ["up-scaled"],
    }
    json.dumps(answer)  # plain JSON types only
    assert Prediction(**answer).model_dump() == answer
    batch = build_prediction(0.75, MODEL, prepared, file="a.png")
    assert FilePrediction(**batch).file == "a.png" and batch["label"] == "FAKE"


def test_model_info_from_detector(detector_dir: Path) -> None:
    from fakeimage.models.inference import load_detector

    info = ModelInfo.from_detector(load_detector(detector_dir), "here")
    assert info.as_dict() == {
        "name": "test-detector",
        "version": "7",
        "threshold": 0.5,
        "source": "here",
    }


# ----------------------------------------------------------------------------- request guard


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


def test_upload_tmpdir_prefers_a_roomy_ram_disk(tmp_path: Path) -> None:
    roomy = str(tmp_path)
    assert upload_tmpdir({}, candidates=[roomy], min_free_bytes=1) == roomy
    assert upload_tmpdir({}, candidates=[roomy], min_free_bytes=2**62) is None
    assert upload_tmpdir({}, candidates=[str(tmp_path / "absent")], min_free_bytes=1) is None
    assert upload_tmpdir({"FAKEIMAGE_UPLOAD_TMPDIR": "/x"}, candidates=[roomy]) == "/x"
    assert upload_tmpdir({"FAKEIMAGE_UPLOAD_TMPDIR": "default"}, candidates=[roomy]) is None
