"""Metrics with FAKE as the positive class, and the choice of the decision threshold.

These are the only metric functions in the project: the evaluate stage, `fakeimage evaluate`
and the promote stage all call them, so a number means the same thing everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from fakeimage.detector.verdict import predicted_labels

_EPSILON = 1e-7


def choose_threshold(
    labels: np.ndarray,
    probabilities: np.ndarray,
    policy: str,
    fixed: float = 0.5,
    max_real_error: float | None = None,
) -> float:
    """The decision threshold on P(FAKE) that the policy prefers on (validation) data.

    Every distinct score is a candidate, plus one above the highest (everything REAL);
    max_accuracy and max_f1 maximise those metrics, youden maximises TPR - FPR, among the
    candidates that call at most `max_real_error` of the REAL images FAKE when it is given: a
    detector trained on many generators can buy FAKE recall with false alarms on photographs,
    the error its users forgive least. Ties go to the threshold closest to `fixed`, so an
    indifferent choice stays conventional. One sort and cumulative counts: O(n log n) for any
    number of images.
    """
    if policy == "fixed":
        return fixed
    labels = np.asarray(labels).astype(np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-probabilities, kind="stable")
    scores_sorted, labels_sorted = probabilities[order], labels[order]
    group_end = np.r_[scores_sorted[1:] != scores_sorted[:-1], True]
    # Predicting FAKE for score >= t, with t at each distinct score (descending); candidate k
    # stands for every threshold in (lower[k], candidates[k]], which all predict the same.
    distinct = scores_sorted[group_end]
    candidates = np.r_[np.nextafter(scores_sorted[0], np.inf), distinct]
    lower = np.r_[distinct, -np.inf]
    true_positive = np.r_[0, np.cumsum(labels_sorted)[group_end]]
    false_positive = np.r_[0, np.cumsum(1 - labels_sorted)[group_end]]
    positives = labels.sum()
    negatives = len(labels) - positives
    if policy == "max_accuracy":
        scores = (true_positive + negatives - false_positive) / len(labels)
    elif policy == "max_f1":
        scores = 2 * true_positive / np.maximum(true_positive + false_positive + positives, 1)
    elif policy == "youden":
        scores = true_positive / max(positives, 1) - false_positive / max(negatives, 1)
    else:
        raise ValueError(f"unknown threshold policy {policy!r}")
    if max_real_error is not None:  # the first candidate calls nothing FAKE: always allowed
        allowed = false_positive <= max_real_error * negatives
        scores = np.where(allowed, scores, -np.inf)
    best = np.isclose(scores, scores.max())
    if np.any(best & (lower < fixed) & (fixed <= candidates)):
        return fixed
    tied = candidates[best]
    return float(tied[np.argmin(np.abs(tied - fixed))])


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 15
) -> float:
    """Mean |observed FAKE rate - mean P(FAKE)| over equal-width bins, weighted by bin size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1], right=False), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(labels[members].mean() - probabilities[members].mean())
    return float(error)


def calibration_curve(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = 15
) -> list[dict[str, float]]:
    """Per non-empty bin: mean predicted P(FAKE), observed FAKE fraction and count."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1], right=False), 0, bins - 1)
    return [
        {
            "mean_predicted": float(probabilities[which == b].mean()),
            "fraction_fake": float(labels[which == b].mean()),
            "count": int((which == b).sum()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def classification_metrics(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, bins: int = 15
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, ROC-AUC, PR-AUC, log loss, ECE and the confusion matrix."""
    labels = np.asarray(labels).astype(int)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predictions = predicted_labels(probabilities, threshold)
    both_classes = len(np.unique(labels)) == 2
    matrix = skm.confusion_matrix(labels, predictions, labels=[0, 1])
    return {
        "n": len(labels),
        "threshold": float(threshold),
        "accuracy": float(skm.accuracy_score(labels, predictions)),
        "precision": float(skm.precision_score(labels, predictions, zero_division=0)),
        "recall": float(skm.recall_score(labels, predictions, zero_division=0)),
        "f1": float(skm.f1_score(labels, predictions, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(labels, probabilities)) if both_classes else None,
        "pr_auc": float(skm.average_precision_score(labels, probabilities))
        if both_classes
        else None,
        "log_loss": float(
            skm.log_loss(labels, np.clip(probabilities, _EPSILON, 1 - _EPSILON), labels=[0, 1])
        ),
        "ece": expected_calibration_error(labels, probabilities, bins),
        # rows: actual REAL, FAKE; columns: predicted REAL, FAKE
        "confusion_matrix": matrix.tolist(),
    }
