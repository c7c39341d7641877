"""Metrics against scikit-learn and independent references; threshold policies by brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from fakeimage.evaluation.metrics import (
    calibration_curve,
    choose_threshold,
    classification_metrics,
    expected_calibration_error,
)


def _random_scores(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities that are informative but noisy (like a mediocre detector)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logits = 1.5 * (labels - 0.5) + rng.normal(0, 1.2, n)
    return labels, 1 / (1 + np.exp(-logits))


def _reference_ece(labels: np.ndarray, probabilities: np.ndarray, bins: int) -> float:
    """Plain-loop ECE: bin k holds p with k/bins <= p < (k+1)/bins, the last bin also p = 1."""
    totals = [[0, 0.0, 0.0] for _ in range(bins)]  # count, sum of labels, sum of p
    for label, p in zip(labels, probabilities, strict=True):
        k = bins - 1
        for candidate in range(bins):
            if p < (candidate + 1) / bins:
                k = candidate
                break
        totals[k][0] += 1
        totals[k][1] += label
        totals[k][2] += p
    n = len(labels)
    return sum(c / n * abs(s_y / c - s_p / c) for c, s_y, s_p in totals if c)


def _accuracy(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> float:
    return float(np.mean((probabilities >= threshold) == labels))


def _all_thresholds(probabilities: np.ndarray) -> np.ndarray:
    """Thresholds that realise every distinct decision: each score, and one above them all."""
    return np.concatenate([np.unique(probabilities), [np.nextafter(probabilities.max(), 2)]])


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_agree_with_scikit_learn(seed: int) -> None:
    labels, probabilities = _random_scores(seed)
    threshold = [0.5, 0.3, 0.62, 0.5, 0.8][seed]
    result = classification_metrics(labels, probabilities, threshold)
    predictions = (probabilities >= threshold).astype(int)
    assert result["n"] == len(labels)
    assert result["threshold"] == threshold
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(labels, predictions))
    assert result["precision"] == pytest.approx(skm.precision_score(labels, predictions))
    assert result["recall"] == pytest.approx(skm.recall_score(labels, predictions))
    assert result["f1"] == pytest.approx(skm.f1_score(labels, predictions))
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, probabilities))
    assert result["pr_auc"] == pytest.approx(skm.average_precision_score(labels, probabilities))
    assert result["log_loss"] == pytest.approx(skm.log_loss(labels, probabilities))
    assert result["ece"] == pytest.approx(_reference_ece(labels, probabilities, 15))
    tn, fp, fn, tp = skm.confusion_matrix(labels, predictions).ravel()
    assert result["confusion_matrix"] == [[tn, fp], [fn, tp]]
    assert sum(map(sum, result["confusion_matrix"])) == len(labels)
    for key, value in result.items():  # JSON-ready plain types
        assert type(value) in (int, float, list), key


def test_classification_metrics_threshold_is_inclusive_and_fake_is_positive() -> None:
    labels = np.array([1, 1, 0, 0])
    probabilities = np.array([0.5, 0.9, 0.1, 0.4])
    result = classification_metrics(labels, probabilities, 0.5)
    assert result["accuracy"] == 1.0  # 0.5 >= 0.5 is FAKE
    assert result["confusion_matrix"] == [[2, 0], [0, 2]]
    flipped = classification_metrics(1 - labels, probabilities, 0.5)
    assert flipped["recall"] == 0.0 and flipped["roc_auc"] == 0.0


def test_classification_metrics_with_one_class_and_extreme_probabilities() -> None:
    labels = np.ones(4, int)
    probabilities = np.array([0.0, 1.0, 1.0, 0.7])
    result = classification_metrics(labels, probabilities, 0.5)
    assert result["roc_auc"] is None and result["pr_auc"] is None
    assert result["accuracy"] == 0.75
    assert result["confusion_matrix"] == [[0, 0], [1, 3]]
    assert np.isfinite(result["log_loss"])  # clipped, not infinite


@pytest.mark.parametrize("bins", [2, 10, 15])
@pytest.mark.parametrize("seed", range(3))
def test_ece_matches_a_reference_implementation(bins: int, seed: int) -> None:
    labels, probabilities = _random_scores(seed)
    # Values exactly on bin edges, and 0 and 1, take the same bin as in the reference.
    probabilities[: bins + 1] = np.linspace(0, 1, bins + 1)
    assert expected_calibration_error(labels, probabilities, bins) == pytest.approx(
        _reference_ece(labels, probabilities, bins), abs=1e-12
    )


def test_ece_of_perfectly_calibrated_and_confidently_wrong_scores() -> None:
    probabilities = np.repeat([0.1, 0.5, 0.9], 10)
    labels = np.concatenate([[1] + [0] * 9, [1] * 5 + [0] * 5, [1] * 9 + [0]])
    assert expected_calibration_error(labels, probabilities, 10) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(np.array([0, 1]), np.array([1.0, 0.0]), 10) == 1.0


@pytest.mark.parametrize("bins", [2, 7, 15])
def test_calibration_curve_bins_hold_every_image(bins: int) -> None:
    labels, probabilities = _random_scores(4, n=257)
    probabilities[:3] = [0.0, 1.0, 0.5]
    curve = calibration_curve(labels, probabilities, bins)
    assert sum(row["count"] for row in curve) == len(labels)
    assert 1 <= len(curve) <= bins
    assert all(row["count"] > 0 for row in curve)
    means = [row["mean_predicted"] for row in curve]
    assert means == sorted(means)
    assert all(0 <= row["fraction_fake"] <= 1 for row in curve)
    # Its count-weighted gaps are the ECE.
    gaps = sum(row["count"] * abs(row["fraction_fake"] - row["mean_predicted"]) for row in curve)
    assert gaps / len(labels) == pytest.approx(
        expected_calibration_error(labels, probabilities, bins)
    )


def test_fixed_policy_returns_the_fixed_threshold() -> None:
    labels, probabilities = _random_scores(0)
    assert choose_threshold(labels, probabilities, "fixed", 0.37) == 0.37
    assert choose_threshold(labels, probabilities, "fixed") == 0.5


def test_unknown_policy_is_refused() -> None:
    labels, probabilities = _random_scores(0)
    with pytest.raises(ValueError, match="unknown threshold policy"):
        choose_threshold(labels, probabilities, "max_magic")


@pytest.mark.parametrize("seed", range(6))
def test_max_accuracy_reaches_the_best_accuracy_of_any_threshold(seed: int) -> None:
    labels, probabilities = _random_scores(seed, n=200)
    best = max(_accuracy(labels, probabilities, t) for t in _all_thresholds(probabilities))
    chosen = choose_threshold(labels, probabilities, "max_accuracy")
    assert _accuracy(labels, probabilities, chosen) == pytest.approx(best)
    assert 0 <= chosen <= 1


@pytest.mark.parametrize(("seed", "budget"), [(0, 0.0), (1, 0.02), (2, 0.1), (3, 0.3)])
def test_a_real_error_budget_keeps_false_alarms_within_it(seed: int, budget: float) -> None:
    labels, probabilities = _random_scores(seed, n=300)
    real = labels == 0

    def real_error(t: float) -> float:
        return float((probabilities[real] >= t).mean())

    allowed = [t for t in _all_thresholds(probabilities) if real_error(t) <= budget]
    best = max(_accuracy(labels, probabilities, t) for t in allowed)
    chosen = choose_threshold(labels, probabilities, "max_accuracy", max_real_error=budget)
    assert real_error(chosen) <= budget
    assert _accuracy(labels, probabilities, chosen) == pytest.approx(best)
    free = choose_threshold(labels, probabilities, "max_accuracy")
    if real_error(free) <= budget:  # a budget that does not bind changes nothing
        assert chosen == free


def test_max_accuracy_can_call_everything_real() -> None:
    labels = np.array([0, 0, 0, 1])
    probabilities = np.array([0.9, 0.2, 0.3, 0.1])  # the one FAKE has the lowest score
    chosen = choose_threshold(labels, probabilities, "max_accuracy")
    assert _accuracy(labels, probabilities, chosen) == 0.75  # threshold > 0.9: all REAL


@pytest.mark.parametrize("seed", range(6))
def test_max_f1_reaches_the_best_f1_of_any_threshold(seed: int) -> None:
    labels, probabilities = _random_scores(seed, n=200)

    def f1(threshold: float) -> float:
        return skm.f1_score(labels, probabilities >= threshold, zero_division=0)

    best = max(f1(t) for t in _all_thresholds(probabilities))
    chosen = choose_threshold(labels, probabilities, "max_f1")
    assert f1(chosen) == pytest.approx(best)


@pytest.mark.parametrize("seed", range(6))
def test_youden_maximises_tpr_minus_fpr(seed: int) -> None:
    labels, probabilities = _random_scores(seed, n=200)

    def youden(threshold: float) -> float:
        predictions = probabilities >= threshold
        tpr = predictions[labels == 1].mean()
        fpr = predictions[labels == 0].mean()
        return tpr - fpr

    best = max(youden(t) for t in _all_thresholds(probabilities))
    chosen = choose_threshold(labels, probabilities, "youden")
    assert youden(chosen) == pytest.approx(best)
    assert 0 <= chosen <= 1


def test_ties_are_broken_toward_the_fixed_threshold() -> None:
    # Perfectly separated scores: every threshold in (0.2, 0.8] is perfect; 0.5 is among them.
    labels = np.array([0, 0, 1, 1])
    probabilities = np.array([0.1, 0.2, 0.8, 0.9])
    for policy in ("max_accuracy", "max_f1", "youden"):
        assert choose_threshold(labels, probabilities, policy) == 0.5
        assert choose_threshold(labels, probabilities, policy, fixed=0.7) == 0.7
