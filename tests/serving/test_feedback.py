"""The feedback folder's bound, checked without the server (the HTTP paths: test_service_http)."""

import io
import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from serving_samples import encode, noise
from starlette.datastructures import UploadFile

from fakeimage.serving import feedback
from fakeimage.serving.errors import RequestError
from fakeimage.serving.request_ids import RequestIds, image_digest
from fakeimage.serving.schemas import ModelInfo
from fakeimage.serving.settings import MB, ServingSettings
from fakeimage.serving.uploads import Upload

MODEL = ModelInfo("test-detector", "7", 0.5)


def _report(settings: ServingSettings, ids: RequestIds, data: bytes) -> feedback.Receipt:
    part = UploadFile(io.BytesIO(data), size=len(data), filename="upload.png")
    upload = TypeAdapter(Upload).validate_python(part)
    request_id = ids.issue(image_digest(data))
    return feedback.take_feedback(settings, MODEL, ids, request_id, "FAKE", "", True, upload)


def test_a_full_folder_refuses_images_counting_its_own_writes_between_walks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = [encode(noise(64, 64, seed=seed), "PNG") for seed in range(3)]
    room = (len(images[0]) + len(images[1]) + 2000) / MB  # two images and their provenance
    settings = ServingSettings(feedback_dir=tmp_path, feedback_max_mb=room)
    ids = RequestIds.for_folder(tmp_path)
    monkeypatch.setattr(feedback, "_USAGE", feedback._Usage())
    walks = []
    monkeypatch.setattr(feedback, "_walk", lambda folder: walks.append(folder) or 0)

    assert _report(settings, ids, images[0]).image_kept
    assert _report(settings, ids, images[1]).image_kept
    with pytest.raises(RequestError) as refused:
        _report(settings, ids, images[2])

    assert refused.value.status == 507 and "is full" in str(refused.value)
    assert walks == [tmp_path]  # one walk; the writes since were added, not re-walked
    reports = (tmp_path / "reports.jsonl").read_text().splitlines()
    assert [json.loads(line)["image_kept"] for line in reports] == [True, True]
    assert len(list((tmp_path / "FAKE" / "reported").glob("*.png"))) == 2
