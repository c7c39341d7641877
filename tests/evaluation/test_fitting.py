"""Fitting the calibration and the uncertainty rule on validation, and what they cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakeimage.detector.folder import FEATURE_FILE
from fakeimage.detector.uncertainty import calibrate, uncertain_by_reason
from fakeimage.evaluation.fitting import (
    MIN_SOURCE_IMAGES,
    certain_answer_scores,
    choose_rule,
    coverage_curve,
    fit_calibration,
    fit_feature_stats,
)
from fakeimage.evaluation.folders import load_labelled_images, source_report
from fakeimage.evaluation.metrics import expected_calibration_error


def _overconfident(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores whose logits are three times too large (a typical CNN)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    true_logit = rng.normal(2.0 * (2 * labels - 1), 1.5)
    labels = (rng.random(n) < 1 / (1 + np.exp(-true_logit))).astype(int)
    return labels, 1 / (1 + np.exp(-3 * true_logit))


def test_calibration_fitted_on_validation_lowers_ece_on_fresh_data() -> None:
    labels, raw = _overconfident(5000)
    record = fit_calibration(labels, raw)
    assert 0.2 < record.scale < 0.5  # undoes the factor 3
    assert record.ece_after < record.ece_before / 2
    fresh_labels, fresh_raw = _overconfident(5000, seed=1)
    before = expected_calibration_error(fresh_labels, fresh_raw)
    after = expected_calibration_error(fresh_labels, calibrate(record, fresh_raw))
    assert after < before / 2 and after < 0.02


def _rule(labels, prob, distance, detail, share: float, limits: float):
    """choose_rule at threshold 0.5, with the same share for both limits."""
    return choose_rule(
        labels,
        prob,
        distance,
        detail,
        0.5,
        uncertain_share=share,
        unfamiliar_share=limits,
        smooth_share=limits,
        feature_file=FEATURE_FILE,
    )


def test_the_rule_keeps_the_uncertain_share_within_budget() -> None:
    rng = np.random.default_rng(2)
    prob = rng.random(4000)
    distance = rng.gamma(4.0, 1.0, 4000)
    detail = rng.gamma(9.0, 3.0, 4000)
    labels = (rng.random(4000) < prob).astype(int)
    rule = _rule(labels, prob, distance, detail, share=0.03, limits=0.005)
    low, high = rule.band
    assert low < 0.5 < high
    assert 0.028 <= rule.val_share <= 0.03
    by_reason = uncertain_by_reason(rule, prob, distance, detail)
    assert abs(by_reason["unfamiliar"].mean() - 0.005) < 0.001
    assert abs(by_reason["little_detail"].mean() - 0.005) < 0.001
    assert rule.val_shares["near_threshold"] == by_reason["near_threshold"].mean()
    # the band takes what the limits leave: nearly all of the 3% without them
    alone = _rule(labels, prob, distance, detail, share=0.03, limits=0.0)
    assert alone.band[0] < low and alone.band[1] > high


def test_the_band_leans_to_the_side_where_the_errors_are() -> None:
    # every wrong answer lies just below the threshold (REAL said of fakes); above, all right
    prob = np.r_[np.linspace(0.30, 0.499, 200), np.linspace(0.5, 0.70, 200)]
    labels = np.r_[np.zeros(100), np.ones(100), np.ones(200)].astype(int)
    rule = _rule(labels, prob, np.zeros(400), np.full(400, 10.0), share=0.1, limits=0.0)
    low, high = rule.band
    assert high == pytest.approx(0.5, abs=1e-9)  # nothing above is set aside
    assert 0.44 < low < 0.46  # the 40 nearest below are
    assert rule.val_share == 0.1


def test_feature_stats_flag_what_lies_off_the_training_clusters() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 3000)
    features = rng.normal(0, 1, (3000, 8)) + 4.0 * labels[:, None]
    stats = fit_feature_stats(features, labels)
    np.testing.assert_allclose(stats.means[1] - stats.means[0], 4.0, atol=0.15)
    inside = stats.distance(rng.normal(0, 1, (500, 8)))
    outside = stats.distance(rng.normal(0, 1, (500, 8)) + np.array([8.0, -8.0] * 4))
    assert np.quantile(inside, 0.99) < np.quantile(outside, 0.01)


def test_feature_stats_keep_one_mean_per_training_source() -> None:
    """Two generators' clusters either side of REAL: an image halfway between them sits at the
    mean of all FAKE images, yet far from each generator's; small sources join their class."""
    rng = np.random.default_rng(4)
    centres = {"REAL": [0.0, 8.0], "FAKE/a": [6.0, 0.0], "FAKE/b": [-6.0, 0.0], "FAKE/c": [6, 1]}
    sizes = {"REAL": 2000, "FAKE/a": 1000, "FAKE/b": 1000, "FAKE/c": MIN_SOURCE_IMAGES - 1}
    names = np.concatenate([[name] * size for name, size in sizes.items()])
    features = np.concatenate(
        [rng.normal(0, 1, (size, 2)) + centres[name] for name, size in sizes.items()]
    )
    stats = fit_feature_stats(features, names)
    assert len(stats.means) == 4  # REAL, FAKE (c, folded in), FAKE/a, FAKE/b
    halfway = stats.distance(np.array([[0.0, 0.0]]))[0]
    assert halfway > np.quantile(stats.distance(features[names != "FAKE/c"]), 0.999)
    by_class = fit_feature_stats(features, np.where(names == "REAL", 0, 1))
    assert by_class.distance(np.array([[0.0, 0.0]]))[0] < halfway / 2


def test_selective_scores_and_the_coverage_curve() -> None:
    labels = np.array([1, 1, 0, 0, 1, 0])
    prob = np.array([0.99, 0.55, 0.45, 0.02, 0.3, 0.9])  # the last two are wrong
    uncertain = np.array([False, True, True, False, False, False])
    scores = certain_answer_scores(labels, prob, uncertain, 0.5)
    assert scores.coverage == 4 / 6
    assert scores.certain_accuracy == 2 / 4 and scores.uncertain_accuracy == 1.0
    curve = coverage_curve(labels, prob, 0.5, points=6)
    assert curve[-1] == {"coverage": 1.0, "accuracy": 4 / 6}
    assert curve[0]["accuracy"] == 1.0  # the most confident answer is right


def _save(path: Path, size: tuple[int, int], seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def test_per_source_evaluation_on_a_folder_with_three_sources(tmp_path: Path) -> None:
    for i in range(3):
        _save(tmp_path / "REAL" / "phone" / f"{i}.png", (640, 480), i)
        _save(tmp_path / "FAKE" / "sd14" / f"{i}.png", (32, 32), 10 + i)
    for i in range(2):
        _save(tmp_path / "FAKE" / "vae" / f"{i}.png", (32, 32), 20 + i)
    (tmp_path / "FAKE" / "vae" / "broken.png").write_bytes(b"not an image")

    images = load_labelled_images(tmp_path)
    assert images.bad_files == 1
    assert sorted(set(images.sources)) == ["phone", "sd14", "vae"]
    phone = [i for i, s in enumerate(images.sources) if s == "phone"]
    assert images.sizes[phone].tolist() == [[640, 480]] * 3
    assert images.data.x.shape == (8, 32, 32, 3)

    labels = images.data.y
    prob = np.where(np.array(images.sources) == "vae", 0.2, 0.9)  # vae fakes missed
    uncertain = np.array([s == "phone" for s in images.sources])
    report = source_report(labels, prob, uncertain, images.sources, 0.5)
    assert set(report) == {"FAKE/sd14", "FAKE/vae", "REAL/phone", "all"}
    assert report["FAKE/sd14"] == {
        "n": 3,
        "accuracy": 1.0,
        "uncertain": 0.0,
        "confidently_wrong": 0.0,
        "certain_accuracy": 1.0,
        "recall": 1.0,
    }
    assert report["FAKE/vae"]["recall"] == 0.0 and report["FAKE/vae"]["confidently_wrong"] == 1.0
    assert report["REAL/phone"]["uncertain"] == 1.0
    assert report["REAL/phone"]["confidently_wrong"] == 0.0  # wrong, but said so
    assert report["all"]["n"] == 8 and report["all"]["confidently_wrong"] == 2 / 8
