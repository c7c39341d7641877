"""The FAKEIMAGE_* settings: defaults, overrides, and one clear line for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fakeimage.data.images import DEFAULT_MAX_PIXELS
from fakeimage.errors import UserError
from fakeimage.serving.settings import MB, ServingSettings, load_settings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ServingSettings.model_fields:
        monkeypatch.delenv(f"FAKEIMAGE_{name.upper()}", raising=False)
    settings = load_settings()
    assert settings == ServingSettings()
    assert settings.max_upload_bytes == 8 * MB and settings.max_batch_bytes == 64 * MB
    assert settings.max_pixels == DEFAULT_MAX_PIXELS


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "FAKEIMAGE_MAX_UPLOAD_MB": "0.5",
        "FAKEIMAGE_MAX_PIXELS": "1000",
        "FAKEIMAGE_MAX_BATCH_FILES": "4",
        "FAKEIMAGE_BATCH_SIZE": "32",
        "FAKEIMAGE_BATCH_LATENCY_MS": "20",
        "FAKEIMAGE_MODEL_THREADS": "2",
        "FAKEIMAGE_BATCH_THREADS": "1",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.max_upload_bytes == MB // 2
    assert (settings.max_pixels, settings.max_batch_files) == (1000, 4)
    assert (settings.batch_size, settings.batch_latency_ms) == (32, 20)
    assert (settings.model_threads, settings.batch_threads) == (2, 1)
    with pytest.raises(ValidationError):  # frozen: read once, never changed under a server
        settings.batch_size = 8  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("FAKEIMAGE_MAX_UPLOAD_MB", "lots", "is not a number"),
        ("FAKEIMAGE_MAX_PIXELS", "1.5", "is not a whole number"),
        ("FAKEIMAGE_BATCH_SIZE", "1", "must be at least 2"),
        ("FAKEIMAGE_BATCH_THREADS", "-1", "must be at least 0"),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(UserError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r} {problem}") and "\n" not in message


def test_a_served_bento_writes_under_bentoml_home_not_in_itself(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ServingSettings.model_fields:
        monkeypatch.delenv(f"FAKEIMAGE_{name.upper()}", raising=False)
    bento = tmp_path / "bentos" / "fake_image_detector" / "abc123"
    (bento / "src").mkdir(parents=True)
    (bento / "bento.yaml").write_text("service: fakeimage.serving.service:FakeImageDetector\n")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path))
    monkeypatch.chdir(bento / "src")
    monkeypatch.setenv("FAKEIMAGE_FEEDBACK_DIR", "/srv/feedback")

    settings = load_settings()

    assert settings.log_dir == tmp_path / "fakeimage" / "logs" / "answers"
    assert settings.feedback_dir == Path("/srv/feedback")  # an absolute folder is kept

    monkeypatch.chdir(tmp_path)  # a project folder: relative, as configured
    assert load_settings().log_dir == Path("logs/answers")
