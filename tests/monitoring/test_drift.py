"""The drift report: quiet on in-distribution traffic, loud on blurred images, an unknown
generator and large photos; its command exits 3 on drift for a scheduler."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from fakeimage.monitoring.drift import Stream, compare, mmd_test

EMBEDDED = Path(__file__).resolve().parents[2] / "data" / "embedded" / "cifake-embedded.zip"
WINDOW = 200


def _synthetic(rng: np.random.Generator, n: int, shift: float = 0.0, uncertain: float = 0.03):
    prob = np.clip(rng.beta(0.3, 0.3, n), 0, 1)
    return Stream(prob, rng.random(n) < uncertain, rng.normal(shift, 1.0, (n, 8)))


def test_windows_like_the_reference_are_rarely_flagged() -> None:
    rng = np.random.default_rng(0)
    reference = _synthetic(rng, 2000)
    alarms = [compare(reference, _synthetic(rng, WINDOW), seed=i).drifted for i in range(40)]
    assert sum(alarms) <= 2  # at most 5%


def test_each_kind_of_change_is_caught_by_its_own_check() -> None:
    rng = np.random.default_rng(1)
    reference = _synthetic(rng, 2000)
    moved = compare(reference, _synthetic(rng, WINDOW, shift=0.4))
    assert moved.drifted and [c.name for c in moved.checks if c.drifted] == ["features"]
    doubtful = compare(reference, _synthetic(rng, WINDOW, uncertain=0.3))
    assert [c.name for c in doubtful.checks if c.drifted] == ["uncertain share"]
    answered_real = Stream(
        rng.beta(0.3, 3, WINDOW), rng.random(WINDOW) < 0.03, rng.normal(size=(WINDOW, 8))
    )
    real = compare(reference, answered_real)
    assert [c.name for c in real.checks if c.drifted] == ["P(fake)"]
    assert real.verdict().startswith(f"DRIFT in the last {WINDOW} answers: P(fake)")


def test_the_mmd_permutation_p_value_is_exact_under_the_null() -> None:
    rng = np.random.default_rng(2)
    p_values = [
        mmd_test(rng.normal(size=(60, 3)), rng.normal(size=(120, 3)), 99, rng)[1] for _ in range(60)
    ]
    assert 0.35 < np.mean(p_values) < 0.65 and min(p_values) >= 1 / 100


# --- real streams: the shipped reference, answers logged as the service logs them ---------


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _log(detector, blobs: list[bytes], folder: Path) -> None:
    """Answer each image as the service does, and log it with the service's record."""
    from fakeimage.data.images import decode_image, to_model_input
    from fakeimage.monitoring.answer_log import AnswerLog
    from fakeimage.monitoring.summary import Summary, summary_rows
    from fakeimage.serving.monitor import record
    from fakeimage.serving.schemas import ModelInfo, answers_for

    info = ModelInfo(detector.name, detector.version, detector.threshold, detector.card.uncertainty)
    images = [decode_image(blob) for blob in blobs]
    assessed = detector.assess(np.stack([to_model_input(image) for image in images]))
    rows = summary_rows(Summary.of(detector.stats), assessed.features)
    log = AnswerLog(folder, file_bytes=1 << 20, total_bytes=8 << 20, retention_s=3600)
    for k, answer in enumerate(answers_for(assessed, info, images)):
        log.append(record(f"2026-12-07T00:00:{k:09.6f}", "/predict", answer, rows[k]))
    log.close()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_command_flags_shifted_streams_and_not_in_distribution_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fakeimage.cli import main
    from fakeimage.config import SyntheticSource
    from fakeimage.data.dataset import Dataset, save_split
    from fakeimage.data.images import load_model_input
    from fakeimage.data.sources.synthetic import generate_synthetic
    from fakeimage.models.keras_detector import load_detector
    from fakeimage.paths import REFERENCE_DIR

    with zipfile.ZipFile(EMBEDDED) as archive:
        names = sorted(n for n in archive.namelist() if n.endswith((".jpg", ".png")))
        blobs = [archive.read(n) for n in names]
    order = np.random.default_rng(0).permutation(len(blobs))
    held = [blobs[i] for i in order[:1600]]  # the reference: images the model never trained on
    unseen = [blobs[i] for i in order[1600:]]
    reference = tmp_path / "reference.npz"
    pixels = np.stack([load_model_input(blob) for blob in held])
    save_split(Dataset(pixels, np.zeros(len(held), np.uint8)), reference)
    detector = load_detector(REFERENCE_DIR)

    def drift(stream: list[bytes], name: str) -> dict:
        capsys.readouterr()  # what came before is not the command's
        folder = tmp_path / name
        _log(detector, stream, folder)
        command = ["drift", "--log", str(folder), "--model", str(REFERENCE_DIR)]
        command += ["--reference", str(reference), "--window", str(WINDOW)]
        command += ["--output", str(folder / "drift.json"), "--figure", str(folder / "drift.png")]
        status = main(command)
        report = json.loads((folder / "drift.json").read_text())
        assert status == (3 if report["drifted"] else 0) and (folder / "drift.png").is_file()
        assert capsys.readouterr().out.splitlines()[0] == f"drift: {report['verdict']}"
        return report

    windows = [unseen[i : i + WINDOW] for i in range(0, len(unseen) - WINDOW + 1, WINDOW)]
    alarms = [drift(window, f"in-distribution-{i}")["drifted"] for i, window in enumerate(windows)]
    assert len(alarms) == 12 and sum(alarms) <= 1, f"{sum(alarms)} of 12 windows flagged"

    base = [Image.open(io.BytesIO(blob)).convert("RGB") for blob in unseen[:WINDOW]]
    blurred = [_png(image.filter(ImageFilter.GaussianBlur(1.0))) for image in base]
    assert drift(blurred, "blurred")["drifted"]
    large = [_png(image.resize((512, 384), Image.Resampling.BICUBIC)) for image in base]
    assert drift(large, "large")["drifted"]

    # a generator the reference never saw: the synthetic source's small VAE
    made = tmp_path / "vae"
    settings = SyntheticSource(train_per_class=WINDOW, test_per_class=10, generator_epochs=5)
    generate_synthetic(made, settings)
    fakes = sorted((made / "train" / "FAKE").glob("*.jpg"))[:WINDOW]
    assert len(fakes) == WINDOW
    report = drift([path.read_bytes() for path in fakes], "unknown-generator")
    assert report["drifted"], report["verdict"]
