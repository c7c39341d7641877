"""The shipped reference answers honestly: CIFAKE images mostly certain, images far from
CIFAKE uncertain or right, through the same rule the service applies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakeimage.evaluation.far_images import build_far_images
from fakeimage.evaluation.folders import load_labelled_images, source_report, uncertain_images
from fakeimage.models.keras_detector import load_detector
from fakeimage.paths import REFERENCE_DIR
from repo_copy import REPO_ROOT, SAMPLE

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference():
    return load_detector(REPO_ROOT / REFERENCE_DIR)


def _report(detector, location: Path) -> dict[str, dict]:
    images = load_labelled_images(location)
    assessment = detector.assess(images.data.x)
    reasons = uncertain_images(detector.card.uncertainty, assessment, images.sizes)
    uncertain = np.array([bool(codes) for codes in reasons])
    return source_report(
        images.data.y, assessment.prob_fake, uncertain, images.sources, detector.threshold
    )


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"the CIFAKE sample {SAMPLE} is absent")
@pytest.mark.timeout(600)
def test_cifake_images_are_mostly_certain_and_right(reference) -> None:
    total = _report(reference, SAMPLE)["all"]
    assert total["n"] == 2000
    assert total["uncertain"] <= 0.05
    assert total["certain_accuracy"] >= 0.98


@pytest.mark.timeout(600)
def test_images_far_from_cifake_are_uncertain_or_right(reference, tmp_path: Path) -> None:
    build_far_images(tmp_path / "far", per_source=40)
    report = _report(reference, tmp_path / "far")
    for source in ("REAL/photo_full", "REAL/screenshot_full", "FAKE/vae_256"):
        assert report[source]["uncertain"] == 1.0, source  # too large to judge
    for source, row in report.items():
        assert row["confidently_wrong"] <= 0.15, (source, row)
    assert report["all"]["confidently_wrong"] <= 0.10
    assert report["FAKE/vae_32"]["uncertain"] >= 0.8  # a generator it never saw: it says so
