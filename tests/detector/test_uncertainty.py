"""The served half of honest answers: calibration, fine detail, feature distance, reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from fakeimage.detector.card import Calibration
from fakeimage.detector.folder import FEATURE_FILE
from fakeimage.detector.uncertainty import (
    FeatureStats,
    calibrate,
    detail_energy,
    geometry_reasons,
    logit,
    uncertain_reasons,
)
from tests.cards import make_rule

RULE = make_rule()


def test_calibration_is_platt_scaling_of_the_logit_and_monotone() -> None:
    raw = np.array([0.01, 0.2, 0.5, 0.8, 0.999])
    assert np.array_equal(calibrate(None, raw), raw)
    record = Calibration(scale=0.5, bias=0.25, ece_before=0.1, ece_after=0.01)
    calibrated = calibrate(record, raw)
    expected = 1 / (1 + np.exp(-(0.5 * np.log(raw / (1 - raw)) + 0.25)))
    np.testing.assert_allclose(calibrated, expected, rtol=1e-9)
    assert np.all(np.diff(calibrated) > 0)
    assert np.isfinite(logit(np.array([0.0, 1.0]))).all()  # saturated outputs stay finite


def test_detail_energy_falls_with_blur_and_enlargement() -> None:
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    flat = np.full((1, 32, 32, 3), 90, np.uint8)
    small = rng.integers(0, 256, (1, 16, 16, 3), dtype=np.uint8)
    enlarged = np.repeat(np.repeat(small, 2, axis=1), 2, axis=2)
    blurred = np.asarray(Image.fromarray(sharp[0]).filter(ImageFilter.GaussianBlur(1.0)))
    energies = detail_energy(np.concatenate([sharp, flat, enlarged, blurred[None]]))
    assert energies[0] > 20
    assert energies[1] == 0 and energies[2] == 0
    assert energies[3] < energies[0] / 3


def test_feature_distance_is_mahalanobis_to_the_nearer_class(tmp_path: Path) -> None:
    stats = FeatureStats(means=np.array([[0.0, 0.0], [10.0, 0.0]]), precision=np.diag([1.0, 4.0]))
    distances = stats.distance(np.array([[0.0, 0.0], [10.0, 1.0], [5.0, 0.0]]))
    np.testing.assert_allclose(distances, [0.0, 2.0, 5.0])
    stats.save(tmp_path / FEATURE_FILE)
    loaded = FeatureStats.load(tmp_path / FEATURE_FILE)
    np.testing.assert_allclose(loaded.distance(np.array([[10.0, 1.0]])), [2.0], rtol=1e-6)


@pytest.mark.parametrize(
    ("size", "codes"),
    [
        ((32, 32), []),
        ((60, 60), []),  # within 2x of 32x32
        ((100, 100), ["too_large"]),
        ((8, 8), ["too_small"]),
        ((40, 32), []),
        ((64, 32), ["not_square"]),
        ((200, 8), ["too_large", "too_small", "not_square"]),
    ],
)
def test_geometry_reasons(size: tuple[int, int], codes: list[str]) -> None:
    assert [reason.code for reason in geometry_reasons(*size)] == codes


def test_judge_names_every_reason_and_a_certain_answer_has_none() -> None:
    assert uncertain_reasons(RULE, 0.95, 1.0, 30.0, 32, 32) == []
    assert [r.code for r in uncertain_reasons(RULE, 0.5, 1.0, 30.0, 32, 32)] == ["near_threshold"]
    assert [r.code for r in uncertain_reasons(RULE, 0.95, 1.0, 1.0, 32, 32)] == ["little_detail"]
    assert [r.code for r in uncertain_reasons(RULE, 0.95, 9.0, 30.0, 32, 32)] == ["unfamiliar"]
    everything = uncertain_reasons(RULE, 0.55, 9.0, 1.0, 640, 480)
    assert [r.code for r in everything] == [
        "too_large",
        "not_square",
        "near_threshold",
        "little_detail",
        "unfamiliar",
    ]
    assert all(r.message for r in everything)
    assert "0.55" in everything[2].message
    # a model without a rule (an older card) still knows what it cannot see
    assert [r.code for r in uncertain_reasons(None, 0.5, np.nan, 0.0, 640, 640)] == ["too_large"]
