"""/feedback's rules checked without the server (its HTTP paths: test_service_http)."""

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


@pytest.fixture(autouse=True)
def fresh_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test counts its own folder from scratch, walked once however long it takes."""
    usage = feedback._Usage()
    monkeypatch.setattr(usage, "WALK_EVERY_S", float("inf"))
    monkeypatch.setattr(feedback, "_USAGE", usage)


def _report(
    settings: ServingSettings,
    ids: RequestIds,
    data: bytes | None,
    *,
    label: str = "FAKE",
    source: str = "",
    request_id: str | None = None,
) -> feedback.Receipt:
    upload = None
    if data is not None:
        part = UploadFile(io.BytesIO(data), size=len(data), filename="upload.png")
        upload = TypeAdapter(Upload).validate_python(part)
    request_id = request_id or ids.issue(image_digest(data or b""))
    consent = data is not None
    args = (settings, MODEL, ids, request_id, label, source, consent, upload)
    return feedback.take_feedback(*args)


def test_a_full_folder_refuses_reports_counting_its_own_writes_between_walks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = [encode(noise(64, 64, seed=seed), "PNG") for seed in range(3)]
    line = feedback._provenance("0" * 32, "FAKE", "reported", MODEL) | {"image_kept": True}
    report = len(json.dumps(line)) + 1
    # room for two images and their report lines (provenance files are not counted), not three
    room = (len(images[0]) + len(images[1]) + 2.5 * report) / MB
    settings = ServingSettings(feedback_dir=tmp_path, feedback_max_mb=room)
    ids = RequestIds.for_folder(tmp_path)
    walks = []
    monkeypatch.setattr(feedback, "_walk", lambda folder: walks.append(folder) or 0)

    assert _report(settings, ids, images[0]).image_kept
    assert _report(settings, ids, images[1]).image_kept
    with pytest.raises(RequestError) as refused:
        _report(settings, ids, images[2])
    assert refused.value.status == 507 and "is full" in str(refused.value)
    with pytest.raises(RequestError) as label_only:  # a report without an image, too
        _report(settings, ids, None)

    assert label_only.value.status == 507
    assert walks == [tmp_path]  # one walk; the writes since were added, not re-walked
    reports = (tmp_path / "reports.jsonl").read_text().splitlines()
    assert [json.loads(line)["image_kept"] for line in reports] == [True, True]
    assert len(list((tmp_path / "FAKE" / "reported").glob("*.png"))) == 2


def test_an_answer_keeps_one_image_whatever_label_and_source_come_later(tmp_path: Path) -> None:
    settings = ServingSettings(feedback_dir=tmp_path)
    ids = RequestIds.for_folder(tmp_path)
    image = encode(noise(32, 32, seed=4), "PNG")
    request_id = ids.issue(image_digest(image))
    _report(settings, ids, image, request_id=request_id, source="sdxl")

    with pytest.raises(RequestError) as again:
        _report(settings, ids, image, request_id=request_id, label="REAL", source="phone")

    assert again.value.status == 409
    assert [p.relative_to(tmp_path).parts[:2] for p in tmp_path.glob("*/*/*.png")] == [
        ("FAKE", "sdxl")
    ]


def test_an_answered_file_that_no_longer_decodes_here_is_refused(tmp_path: Path) -> None:
    """The service that answered may have run with other limits than the one taking the report."""
    settings = ServingSettings(feedback_dir=tmp_path, max_pixels=100)
    ids = RequestIds.for_folder(tmp_path)

    with pytest.raises(RequestError) as refused:
        _report(settings, ids, encode(noise(32, 32, seed=5), "PNG"))

    assert refused.value.status == 422 and "cannot be read" in str(refused.value)
    assert not list(tmp_path.glob("*/*/*"))
