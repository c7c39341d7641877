"""Metrics with FAKE as the positive class, and the choice of the decision threshold.

These are the only metric functions in the project: the evaluate stage, `fakeimage evaluate`
and the promote stage all call them, so a number means the same thing everywhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

_EPSILON = 1e-7


def choose_threshold(
    labels: np.ndarray, probabilities: np.ndarray, policy: str, fixed: float = 0.5
) -> float:
    """The decision threshold on P(FAKE) that the policy prefers on (validation) data.

    max_accuracy and max_f1 scan every distinct score; youden maximises TPR - FPR. Ties are
    broken toward the threshold closest to 0.5, so an indifferent choice stays conventional.
    """
    if policy == "fixed":
        return fixed
    labels = np.asarray(labels).astype(int)
    candidates = np.unique(np.concatenate([np.asarray(probabilities, float), [fixed]]))
    if policy == "youden":
        fpr, tpr, thresholds = skm.roc_curve(labels, probabilities)
        finite = np.isfinite(thresholds)
        scores, candidates = (tpr - fpr)[finite], thresholds[finite]
    else:
        predictions = probabilities[None, :] >= candidates[:, None]
        true_positive = (predictions & (labels[None, :] == 1)).sum(axis=1)
        if policy == "max_accuracy":
            correct = true_positive + (~predictions & (labels[None, :] == 0)).sum(axis=1)
            scores = correct / len(labels)
        elif policy == "max_f1":
            predicted, actual = predictions.sum(axis=1), (labels == 1).sum()
            scores = 2 * true_positive / np.maximum(predicted + actual, 1)
        else:
            raise ValueError(f"unknown threshold policy {policy!r}")
    best = scores.max()
    tied = candidates[np.isclose(scores, best)]
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
    predictions = (probabilities >= threshold).astype(int)
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
