"""The service class instantiated in this process, as BentoML's testing guide advises: its API
methods called directly, with no server, no HTTP and no second process. Fast, and it fails
with the service's own traceback.

The service is built around a detector loaded here (`FakeImageDetector.inner(detector)`):
importing the service module needs no model (the Bento argument `model_tag` names it when
BentoML serves it), so nothing of BentoML's store or configuration is touched.
"""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from starlette.datastructures import UploadFile

from fakeimage.serving.schemas import FilePrediction, Prediction
from fakeimage.serving.uploads import Upload


@pytest.fixture(scope="module")
def api(detector_dir: Path) -> Any:
    """The public service and its batch scorer in this process, around the test detector."""
    from fakeimage.detector.onnx_runtime import load_onnx_detector
    from fakeimage.serving.service import FakeImageDetector

    return FakeImageDetector.inner(load_onnx_detector(detector_dir))


def _upload(name: str, image: Image.Image) -> Upload:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    size = buffer.tell()
    buffer.seek(0)
    return Upload.of(UploadFile(buffer, size=size, filename=name))


def _noise(seed: int, size: tuple[int, int] = (32, 32)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    return Image.fromarray(pixels)


def test_predict_answers_with_the_served_model(api: Any) -> None:
    answer = asyncio.run(api.predict(image=_upload("noise.png", _noise(0))))
    assert isinstance(answer, Prediction)
    assert answer.model.name == "test-detector" and answer.model.version == "7"
    expected = float(api.detector.predict_proba(np.asarray(_noise(0))[None])[0])
    assert answer.prob_fake == pytest.approx(expected, abs=1e-6)
    assert not answer.uncertain and answer.explanation is None


def test_predict_can_explain_and_doubt(api: Any) -> None:
    answer = asyncio.run(
        api.predict(image=_upload("flat.png", Image.new("RGB", (300, 200))), explain=True)
    )
    assert [r.code for r in answer.reasons] == ["too_large", "not_square", "little_detail"]
    assert answer.explanation is not None and answer.explanation.png_base64


def test_predict_batch_scores_through_the_model_dependency(api: Any) -> None:
    uploads = [_upload(f"{i}.png", _noise(i)) for i in range(4)]
    answers = asyncio.run(api.predict_batch(images=uploads))
    assert [a.file for a in answers] == ["0.png", "1.png", "2.png", "3.png"]
    assert all(isinstance(a, FilePrediction) for a in answers)
    single = asyncio.run(api.predict(image=_upload("2.png", _noise(2))))
    assert answers[2].prob_fake == pytest.approx(single.prob_fake, abs=1e-6)


def test_a_bad_upload_is_a_json_error_not_an_exception(api: Any) -> None:
    broken = Upload.of(UploadFile(io.BytesIO(b"<html>"), size=6, filename="page.png"))
    response = asyncio.run(api.predict(image=broken))
    assert response.status_code == 415
    assert b"not a readable image" in response.body


def test_importing_the_service_reads_and_writes_nothing(tmp_path: Path) -> None:
    """Without the Bento argument the module imports, declares no model and creates no store;
    building the service then stops with one line that says how to start it."""
    code = (
        "import fakeimage.serving.service as s\n"
        "print(s.MODEL_TAG, s.FakeImageDetector.models, s.DetectorModel.models)\n"
        "try:\n"
        "    s.FakeImageDetector.inner()\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    home = tmp_path / "bentoml"
    env = {**os.environ, "BENTOML_HOME": str(home), "FAKEIMAGE_MODEL": str(tmp_path / "none")}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    declared, refused = done.stdout.splitlines()
    assert declared == "None [] []"
    assert refused.startswith("UserError no model to serve: start the service with `fakeimage")
    assert list(tmp_path.iterdir()) == []  # no BentoML home, no model store, nothing


def test_an_answer_log_that_cannot_be_written_costs_no_answer(
    api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakeimage.serving.monitor import Monitor
    from fakeimage.serving.settings import ServingSettings

    blocker = tmp_path / "a-file"
    blocker.write_text("where the log folder should be")
    monitor = Monitor(ServingSettings(log_dir=blocker / "answers"), api.info)
    monkeypatch.setattr(api, "monitor", monitor)
    answers = [asyncio.run(api.predict(image=_upload("noise.png", _noise(i)))) for i in range(3)]
    assert all(answer.request_id for answer in answers)
    assert blocker.is_file()
