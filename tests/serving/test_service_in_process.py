"""The service class instantiated in this process, as BentoML's testing guide advises: its API
methods called directly, with no server, no HTTP and no second process. Fast, and it fails
with the service's own traceback."""

from __future__ import annotations

import asyncio
import importlib
import io
import sys
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest
from PIL import Image
from starlette.datastructures import UploadFile

from fakeimage.serving.schemas import FilePrediction, Prediction
from fakeimage.serving.uploads import Upload
from tests.cards import save_servable_detector


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """fakeimage.serving.service imported afresh, serving a tiny detector from a private store."""
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml._internal.models import ModelStore

    root = tmp_path_factory.mktemp("in-process")
    folder = save_servable_detector(root / "detector")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("FAKEIMAGE_MODEL", str(folder))
    BentoMLContainer.model_store.set(ModelStore(str(root / "models")))
    sys.modules.pop("fakeimage.serving.service", None)
    try:
        yield importlib.import_module("fakeimage.serving.service")
    finally:
        sys.modules.pop("fakeimage.serving.service", None)
        BentoMLContainer.model_store.reset()
        monkeypatch.undo()


def _upload(name: str, image: Image.Image) -> Upload:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    size = buffer.tell()
    buffer.seek(0)
    return Upload.of(UploadFile(buffer, size=size, filename=name))


def _noise(seed: int, size: tuple[int, int] = (32, 32)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), np.uint8)
    return Image.fromarray(pixels)


def test_predict_answers_with_the_served_model(service: ModuleType) -> None:
    api = service.FakeImageDetector()
    answer = asyncio.run(api.predict(image=_upload("noise.png", _noise(0))))
    assert isinstance(answer, Prediction)
    assert answer.model.name == "test-detector" and answer.model.version == "7"
    expected = float(api.detector.predict_proba(np.asarray(_noise(0))[None])[0])
    assert answer.prob_fake == pytest.approx(expected, abs=1e-6)
    assert not answer.uncertain and answer.explanation is None


def test_predict_can_explain_and_doubt(service: ModuleType) -> None:
    api = service.FakeImageDetector()
    answer = asyncio.run(
        api.predict(image=_upload("flat.png", Image.new("RGB", (300, 200))), explain=True)
    )
    assert [r.code for r in answer.reasons] == ["too_large", "not_square", "little_detail"]
    assert answer.explanation is not None and answer.explanation.png_base64


def test_predict_batch_scores_through_the_model_dependency(service: ModuleType) -> None:
    api = service.FakeImageDetector()
    uploads = [_upload(f"{i}.png", _noise(i)) for i in range(4)]
    answers = asyncio.run(api.predict_batch(images=uploads))
    assert [a.file for a in answers] == ["0.png", "1.png", "2.png", "3.png"]
    assert all(isinstance(a, FilePrediction) for a in answers)
    single = asyncio.run(api.predict(image=_upload("2.png", _noise(2))))
    assert answers[2].prob_fake == pytest.approx(single.prob_fake, abs=1e-6)


def test_a_bad_upload_is_a_json_error_not_an_exception(service: ModuleType) -> None:
    api = service.FakeImageDetector()
    broken = Upload.of(UploadFile(io.BytesIO(b"<html>"), size=6, filename="page.png"))
    response = asyncio.run(api.predict(image=broken))
    assert response.status_code == 415
    assert b"not a readable image" in response.body
