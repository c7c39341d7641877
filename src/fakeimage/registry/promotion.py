"""The champion rule: a challenger takes the alias only if it beats the champion on the same images.

Both models are scored now, through the same forward path, on the current validation images
that neither of them trained on. The challenger wins only if the one-sided 95% lower bound of
the paired bootstrap difference of the metric (challenger minus champion, resampling images) is
above zero: a lead smaller than the sampling noise of those images keeps the champion. A model
trained on the synthetic stand-in never displaces one trained on real data, and with too few
unseen images the champion stays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

RESAMPLES = 2000
CONFIDENCE = 0.95
_EPS = 1e-7


@dataclass(frozen=True)
class Scored:
    """One model's view of the shared images: P(FAKE) and its own decision threshold."""

    probabilities: np.ndarray
    threshold: float


@dataclass(frozen=True)
class Comparison:
    metric: str
    images: int
    champion: float
    challenger: float
    lower_bound: float
    """One-sided lower bound of the paired improvement (in "higher is better" units)."""


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def metric_key(metric: str) -> str:
    """The MLflow metric the train stage logs for a promote.metric name (best-epoch value)."""
    return f"best_{metric}"


def _per_image_gain(metric: str, labels: np.ndarray, scored: Scored) -> np.ndarray | None:
    """Per-image contributions for metrics that are means (accuracy, log loss), gain-oriented."""
    p = np.clip(scored.probabilities, _EPS, 1 - _EPS)
    if metric == "val_accuracy":
        return ((p >= scored.threshold) == labels.astype(bool)).astype(np.float64)
    if metric == "val_loss":  # negative log loss: higher is better
        return np.where(labels == 1, np.log(p), np.log(1 - p))
    return None


def metric_value(metric: str, labels: np.ndarray, scored: Scored) -> float:
    """The metric on these images, in its own units (log loss positive)."""
    gains = _per_image_gain(metric, labels, scored)
    if gains is None:
        return float(roc_auc_score(labels, scored.probabilities))
    return float(gains.mean() if metric == "val_accuracy" else -gains.mean())


def compare(
    metric: str, labels: np.ndarray, champion: Scored, challenger: Scored, seed: int = 0
) -> Comparison:
    """Both models' metric on the same images and the bootstrap bound of the improvement."""
    labels = np.asarray(labels).astype(np.int64)
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(labels), size=(RESAMPLES, len(labels)))
    champion_gain = _per_image_gain(metric, labels, champion)
    challenger_gain = _per_image_gain(metric, labels, challenger)
    if champion_gain is not None and challenger_gain is not None:
        differences = (challenger_gain - champion_gain)[samples].mean(axis=1)
    else:  # ROC-AUC is not a mean over images: recompute it on every resample
        differences = np.array(
            [
                roc_auc_score(labels[rows], challenger.probabilities[rows])
                - roc_auc_score(labels[rows], champion.probabilities[rows])
                for rows in samples
                if 0 < labels[rows].sum() < len(rows)
            ]
        )
    return Comparison(
        metric=metric,
        images=len(labels),
        champion=metric_value(metric, labels, champion),
        challenger=metric_value(metric, labels, challenger),
        lower_bound=float(np.quantile(differences, 1 - CONFIDENCE)),
    )


def decide(
    comparison: Comparison | None,
    *,
    unseen_images: int,
    min_unseen_images: int,
    challenger_real: bool,
    champion_real: bool,
) -> Decision:
    """Should the challenger take the alias from the champion?"""
    if champion_real and not challenger_real:
        return Decision(
            False,
            "the challenger was trained on the synthetic stand-in and the champion on real "
            "data: a synthetic-data model never replaces a real-data one",
        )
    if unseen_images < min_unseen_images:
        return Decision(
            False,
            f"only {unseen_images} validation images are unseen by both models (fewer than "
            f"promote.min_unseen_images {min_unseen_images}): too few to tell them apart",
        )
    if comparison is None:
        return Decision(False, "the unseen validation images hold only one class")
    name = comparison.metric.removeprefix("val_")
    scores = (
        f"{name} {comparison.challenger:.4f} vs the champion's {comparison.champion:.4f} "
        f"on the same {comparison.images} unseen images"
    )
    if comparison.lower_bound > 0:
        return Decision(True, f"{scores}; the lead is above the sampling noise (95% bound > 0)")
    return Decision(False, f"{scores}; not better by more than the sampling noise")
