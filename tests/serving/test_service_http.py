"""The real server over HTTP: `bentoml serve fakeimage.serving.service:FakeImageDetector`.

One server per module (a tiny random-weight detector, FAKEIMAGE_MAX_UPLOAD_MB=1 so oversized
uploads stay cheap), started as a subprocess on a free loopback port and always stopped with
its whole process tree.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from serving_samples import (
    BadSample,
    Sample,
    bad_samples,
    encode,
    noise,
    valid_samples,
)

from fakeimage.data.images import load_model_input
from fakeimage.serving.schemas import Prediction
from repo_copy import SAMPLE
from tests.service_process import ServiceProcess, run_service

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 240
REQUEST_TIMEOUT_S = 60

pytestmark = [pytest.mark.slow, pytest.mark.timeout(START_TIMEOUT_S + 120)]


@dataclass
class Server:
    """The running service, with helpers to post uploads to it."""

    process: ServiceProcess

    @property
    def url(self) -> str:
        return self.process.url

    def post(self, route: str, files: list[tuple[str, tuple[str, bytes]]]) -> requests.Response:
        return requests.post(f"{self.url}{route}", files=files, timeout=REQUEST_TIMEOUT_S)

    def predict(self, name: str, data: bytes) -> requests.Response:
        return self.post("/predict", [("image", (name, data))])

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines)


@pytest.fixture(scope="module")
def server(detector_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "FAKEIMAGE_MAX_UPLOAD_MB": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    with run_service(
        tmp_path_factory.mktemp("bentoml_home"),
        model=detector_dir,
        env=env,
        cwd=REPO_ROOT,
        start_timeout_s=START_TIMEOUT_S,
    ) as process:
        yield Server(process)


def good_image() -> tuple[str, bytes]:
    return "good.png", encode(noise(32, 32, seed=21), "PNG")


def assert_still_serving(server: Server) -> None:
    response = server.predict(*good_image())
    assert response.status_code == 200, response.text
    assert response.json()["label"] in ("REAL", "FAKE")


def assert_json_error(response: requests.Response, status: int, fragment: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    assert fragment in body["error"], body
    return body


def cifake_images() -> dict[str, tuple[str, bytes]]:
    if not SAMPLE.is_file():
        pytest.skip(f"{SAMPLE} is absent: the real CIFAKE sample is not available")
    found: dict[str, tuple[str, bytes]] = {}
    with zipfile.ZipFile(SAMPLE) as archive:
        for member in sorted(archive.namelist()):
            for label in ("REAL", "FAKE"):
                if label not in found and member.startswith(f"train/{label}/"):
                    found[label] = (Path(member).name, archive.read(member))
            if len(found) == 2:
                break
    return found


# ----------------------------------------------------------------------------- probes


def test_health_and_metrics(server: Server) -> None:
    assert requests.get(f"{server.url}/livez", timeout=10).status_code == 200
    assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
    assert_still_serving(server)
    batch = server.post("/predict_batch", [("images", good_image()), ("images", good_image())])
    assert batch.status_code == 200, batch.text
    metrics = requests.get(f"{server.url}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert 'endpoint="/predict"' in metrics.text
    assert 'endpoint="/predict_batch"' in metrics.text
    # the batch went through the model worker's adaptive batching
    assert "bentoml_service_adaptive_batch_size" in metrics.text


# ----------------------------------------------------------------------------- verdicts


def test_predict_real_and_fake_cifake_images(server: Server, detector_dir: Path) -> None:
    from fakeimage.models.keras_detector import load_detector

    detector = load_detector(detector_dir)
    for name, data in cifake_images().values():
        response = server.predict(name, data)
        assert response.status_code == 200, response.text
        answer = response.json()
        expected = float(detector.predict_proba(load_model_input(data)[None])[0])
        assert answer["prob_fake"] == pytest.approx(expected, abs=1e-5)
        assert answer["label"] == ("FAKE" if expected >= 0.5 else "REAL")
        assert answer["confidence"] == pytest.approx(max(expected, 1 - expected), abs=1e-5)
        assert answer["threshold"] == 0.5
        assert answer["model"] == {"name": "test-detector", "version": "7"}
        shown = {"width": 32, "height": 32, "mode": "RGB", "format": "JPEG", "quality": 75}
        assert answer["input"] == shown  # CIFAKE's JPEGs were saved at quality 75
        assert answer["warnings"] == []


@pytest.mark.parametrize("sample", valid_samples(), ids=lambda s: s.name)
def test_valid_inputs_get_a_verdict(server: Server, sample: Sample) -> None:
    response = server.predict(sample.name, sample.data)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["label"] in ("REAL", "FAKE")
    assert 0.0 <= answer["prob_fake"] <= 1.0
    if sample.warning is None:
        assert answer["warnings"] == []
    else:
        assert any(sample.warning in warning for warning in answer["warnings"]), answer
    codes = [reason["code"] for reason in answer["reasons"]]
    assert answer["uncertain"] == bool(codes)
    if sample.reason is None:
        assert codes == [], answer
    else:
        assert sample.reason in codes, answer


def test_file_names_of_any_length_are_fine(server: Server) -> None:
    """Uploads are read in memory: the client's name never becomes a path on the server."""
    name = "é" * 498 + ".png"
    assert len(name.encode()) == 1000
    response = server.predict(name, good_image()[1])
    assert response.status_code == 200, response.text
    batch = server.post("/predict_batch", [("images", (name, good_image()[1]))] * 2)
    assert batch.status_code == 200, batch.text
    assert [answer["file"] for answer in batch.json()] == [name, name]


def test_predict_can_carry_its_explanation(server: Server) -> None:
    """One request gives the page everything: the verdict and the occlusion map."""
    name, data = "photo.jpg", encode(noise(48, 48), "JPEG")
    plain = server.predict(name, data).json()
    assert plain["explanation"] is None
    response = requests.post(
        f"{server.url}/predict",
        files=[("image", (name, data))],
        data={"explain": "true"},
        timeout=REQUEST_TIMEOUT_S,
    )
    assert response.status_code == 200, response.text
    answer = Prediction.model_validate_json(response.content)
    assert answer.prob_fake == pytest.approx(plain["prob_fake"], abs=1e-6)
    assert answer.explanation is not None and answer.explanation.method == "occlusion"
    overlay = Image.open(io.BytesIO(base64.b64decode(answer.explanation.png_base64)))
    assert overlay.format == "PNG" and overlay.size == (256, 256)


# ----------------------------------------------------------------------------- bad requests


@pytest.mark.parametrize("sample", bad_samples(), ids=lambda s: s.name)
def test_bad_files_get_a_clear_4xx(server: Server, sample: BadSample) -> None:
    assert_json_error(server.predict(sample.name, sample.data), sample.status, sample.fragment)
    assert_still_serving(server)


@pytest.mark.parametrize(
    ("size", "fragment"),
    [(1024 * 1024 + 10_000, "over the upload limit"), (3 * 1024 * 1024, "request body")],
    ids=["file-over-limit", "body-far-over-limit"],
)
def test_oversized_uploads_are_refused(server: Server, size: int, fragment: str) -> None:
    data = b"\xff\xd8" + os.urandom(size - 2)
    assert_json_error(server.predict("huge.jpg", data), 413, fragment)
    assert_still_serving(server)


def test_requests_without_a_file_get_a_clear_4xx(server: Server) -> None:
    # no file field at all, or the file under another name
    for files in ([("picture", ("notes.txt", b"just text"))], [("picture", good_image())]):
        assert_json_error(server.post("/predict", files), 400, "field 'image'")
    # a text field where the file belongs (BentoML would treat a URL as one to download)
    for text in ("hello", "http://192.0.2.1/cat.jpg"):
        as_text = requests.post(f"{server.url}/predict", files={"image": (None, text)}, timeout=30)
        assert_json_error(as_text, 400, "field 'image'")
    raw = requests.post(
        f"{server.url}/predict",
        data=good_image()[1],
        headers={"Content-Type": "image/png"},
        timeout=30,
    )
    assert_json_error(raw, 415, "multipart/form-data")
    empty = requests.post(f"{server.url}/predict", timeout=30)
    assert_json_error(empty, 415, "multipart/form-data")
    assert_still_serving(server)


# ----------------------------------------------------------------------------- batches


def test_predict_batch(server: Server) -> None:
    samples = [("real.jpg", encode(noise(32, 32, seed=i), "JPEG")) for i in range(5)]
    samples.append(("one_pixel.png", encode(Image.new("RGB", (1, 1)), "PNG")))
    response = server.post("/predict_batch", [("images", sample) for sample in samples])
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [answer["file"] for answer in answers] == [name for name, _ in samples]
    assert all(answer["label"] in ("REAL", "FAKE") for answer in answers)
    # the batch worker's answers are the single endpoint's, doubts included
    assert [r["code"] for r in answers[-1]["reasons"]] == ["too_small", "little_detail"]
    assert answers[-1]["uncertain"] and not any(a["uncertain"] for a in answers[:-1])
    single = server.predict(*samples[2]).json()
    assert answers[2]["prob_fake"] == pytest.approx(single["prob_fake"], abs=1e-6)
    assert answers[2]["reasons"] == single["reasons"]


def test_predict_batch_of_many_images(server: Server) -> None:
    rng = np.random.default_rng(5)
    images = [
        (
            f"{i:03d}.png",
            encode(Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)), "PNG"),
        )
        for i in range(100)
    ]
    response = server.post("/predict_batch", [("images", image) for image in images])
    assert response.status_code == 200, response.text
    assert [answer["file"] for answer in response.json()] == [name for name, _ in images]


def test_predict_batch_names_the_bad_file(server: Server) -> None:
    files = [good_image(), ("broken.jpg", b"<html>not an image</html>"), good_image()]
    response = server.post("/predict_batch", [("images", file) for file in files])
    body = assert_json_error(response, 415, "broken.jpg")
    assert (body["file"], body["index"]) == ("broken.jpg", 1)
    assert_json_error(server.post("/predict_batch", [("image", good_image())]), 400, "images")
    assert_still_serving(server)


# ----------------------------------------------------------------------------- explanations


def test_explain_returns_a_png_overlay(server: Server) -> None:
    response = server.post("/explain", [("image", ("photo.jpg", encode(noise(48, 48), "JPEG")))])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-fakeimage-label"] in ("REAL", "FAKE")
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG" and image.size == (256, 256)
    assert_json_error(server.post("/explain", [("image", ("x.jpg", b"nope"))]), 415, "not a")


def test_no_server_errors_were_answered(server: Server) -> None:
    assert server.process.answered(endpoint="/predict", http_response_code="200")
    errors = server.process.answered(http_response_code="500")
    assert errors == [], errors
    assert server.process.process.poll() is None


def test_no_server_process_loads_tensorflow_or_keras(server: Server) -> None:
    """Both processes score through ONNX Runtime: no TensorFlow library is mapped in any."""
    from tests.service_process import process_tree

    assert server.predict(*good_image()).status_code == 200  # both processes are warm
    assert server.post("/predict_batch", [("images", good_image())]).status_code == 200
    tree = process_tree(server.process.process.pid)
    python = [p for p in tree if "python" in p.name().lower() or "bentoml" in " ".join(p.cmdline())]
    assert len(python) >= 2
    for member in python:
        maps = Path(f"/proc/{member.pid}/maps").read_text()
        assert "onnxruntime" in maps or member.pid == server.process.process.pid
        assert "tensorflow" not in maps.lower(), member.cmdline()


# ----------------------------------------------------------------------------- the loop


def test_every_answer_is_logged_and_counted(server: Server) -> None:
    from fakeimage.monitoring.answer_log import read_answers

    flat = ("flat.png", encode(Image.new("RGB", (32, 32), (90, 90, 90)), "PNG"))
    photo = ("photo.jpg", encode(noise(40, 40, seed=3), "JPEG"))
    answers = [server.predict(*flat).json(), server.predict(*photo).json()]
    batch = server.post("/predict_batch", [("images", photo), ("images", flat)]).json()
    answers += batch
    ids = [answer["request_id"] for answer in answers]
    assert len(set(ids)) == 4 and all(len(i) == 32 for i in ids)
    logged = {r["request_id"]: r for r in read_answers(server.process.log.parent / "answers")}
    for answer in answers:
        record = logged[answer["request_id"]]
        assert record["prob_fake"] == answer["prob_fake"] and record["label"] == answer["label"]
        assert record["uncertain"] == answer["uncertain"]
        assert record["reasons"] == [reason["code"] for reason in answer["reasons"]]
        assert (record["version"], record["width"]) == ("7", answer["input"]["width"])
        assert len(record["summary"]) == 8 and "image" not in json.dumps(record).lower()
    assert logged[ids[1]]["quality"] == 75 and logged[ids[1]]["format"] == "JPEG"
    assert logged[ids[2]]["endpoint"] == "/predict_batch"
    metrics = requests.get(f"{server.url}/metrics", timeout=10).text
    assert 'fakeimage_answers_total{model_version="7",verdict="UNCERTAIN"}' in metrics
    assert 'fakeimage_uncertain_total{reason="little_detail"}' in metrics
    assert 'fakeimage_prob_fake_bucket{le="0.5"}' in metrics
    model = r'fakeimage_model_info\{name="test-detector",(pid="\d+",)?threshold="0.5000",'
    assert re.search(model + r'version="7"\} 1.0', metrics), metrics[-2000:]


def _feedback(server: Server, fields: dict[str, str], image: bytes | None = None):
    """POST /feedback as multipart/form-data (as `curl -F` sends it), with or without a file."""
    parts = {name: (None, value) for name, value in fields.items()}
    if image is not None:
        parts["image"] = ("upload.png", image, "image/png")
    return requests.post(f"{server.url}/feedback", files=parts, timeout=REQUEST_TIMEOUT_S)


def test_feedback_keeps_the_image_only_with_consent(server: Server) -> None:
    folder = server.process.log.parent / "feedback"
    image = encode(noise(32, 32, seed=9), "PNG")
    request_id = server.predict("wrong.png", image).json()["request_id"]
    fields = {"request_id": request_id, "label": "FAKE", "source": "SDXL", "consent": "true"}
    response = _feedback(server, fields, image)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "request_id": request_id,
        "label": "FAKE",
        "source": "sdxl",
        "image_kept": True,
    }
    stored = folder / "FAKE" / "sdxl" / f"{request_id}.png"
    assert stored.read_bytes() == image
    provenance = json.loads(stored.with_suffix(".json").read_text())
    assert (provenance["request_id"], provenance["version"]) == (request_id, "7")

    # the same answer reported again with its image: refused, the first one stays
    assert_json_error(_feedback(server, fields, image), 409, "already reported")

    # a label alone is a report without an image
    label_only = _feedback(server, {"request_id": request_id, "label": "real"})
    assert label_only.status_code == 200 and label_only.json()["image_kept"] is False
    reports = [json.loads(line) for line in (folder / "reports.jsonl").read_text().splitlines()]
    assert [(r["label"], r["image_kept"]) for r in reports[-2:]] == [
        ("FAKE", True),
        ("REAL", False),
    ]

    # bad input: 4xx with the reason, and nothing stored
    before = sorted(p.name for p in folder.rglob("*"))
    no_consent = {"request_id": request_id, "label": "FAKE"}
    assert_json_error(_feedback(server, no_consent, image), 422, "without consent=true")
    bad_id = {"request_id": "123", "label": "FAKE"}
    assert_json_error(_feedback(server, bad_id), 422, "request_id must be")
    bad_label = {"request_id": request_id, "label": "MAYBE"}
    assert_json_error(_feedback(server, bad_label), 422, "label must be REAL or FAKE")
    bad_source = {"request_id": request_id, "label": "FAKE", "source": "../etc"}
    assert_json_error(_feedback(server, bad_source), 422, "source must be")
    consent_only = {"request_id": request_id, "label": "FAKE", "consent": "true"}
    assert_json_error(_feedback(server, consent_only), 422, "no image")
    made_up = {"request_id": "0" * 32, "label": "FAKE"}
    assert_json_error(_feedback(server, made_up), 422, "not one this service gave")
    other = encode(noise(32, 32, seed=10), "PNG")
    assert_json_error(_feedback(server, consent_only, other), 422, "not the one answered")
    assert_json_error(_feedback(server, consent_only, b"not an image"), 422, "not the one")
    form = requests.post(f"{server.url}/feedback", data=no_consent, timeout=REQUEST_TIMEOUT_S)
    assert_json_error(form, 415, "multipart/form-data fields request_id and label")
    missing = _feedback(server, {"label": "FAKE"})
    assert 400 <= missing.status_code < 500, missing.text
    assert sorted(p.name for p in folder.rglob("*")) == before
    assert_still_serving(server)
