"""Choosing, on validation, how probabilities are calibrated and when an answer is uncertain.

The served side of these rules is `fakeimage.detector.uncertainty`; this module fits them
(evaluate stage) and measures what they cost: coverage and accuracy on the certain answers.
"""

from __future__ import annotations

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.linear_model import LogisticRegression

from fakeimage.data.dataset import Dataset
from fakeimage.detector.card import Calibration, Selective, UncertaintyRule
from fakeimage.detector.uncertainty import FeatureStats, calibrate, logit, uncertain_by_reason
from fakeimage.detector.verdict import predicted_labels
from fakeimage.evaluation.metrics import expected_calibration_error


def fit_calibration(labels: np.ndarray, raw: np.ndarray, bins: int = 15) -> Calibration:
    """Platt scaling of the logit by maximum likelihood (a near-unregularised logistic fit)."""
    labels = np.asarray(labels).astype(int)
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit(raw)[:, None], labels)
    scale, bias = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    if scale <= 0:  # a model whose scores run backwards on validation: leave them alone
        scale, bias = 1.0, 0.0
    before = expected_calibration_error(labels, np.asarray(raw, np.float64), bins)
    record = Calibration(scale=scale, bias=bias, ece_before=before, ece_after=0.0)
    after = expected_calibration_error(labels, calibrate(record, raw), bins)
    return record.replace(ece_after=after)


def feature_sample(data: Dataset, size: int, seed: int) -> Dataset:
    """A seeded random subset of the training images whose features define "familiar"."""
    if len(data.y) <= size:
        return data
    chosen = np.sort(np.random.default_rng(seed).choice(len(data.y), size, replace=False))
    return Dataset(data.x[chosen], data.y[chosen], data.sources[chosen])


MIN_SOURCE_IMAGES = 50
"""A source with fewer images in the feature sample has no mean of its own: it joins its class."""


def fit_feature_stats(features: np.ndarray, sources: np.ndarray) -> FeatureStats:
    """One mean per training source (REAL, FAKE, FAKE/dcgan, ...) and the shared covariance
    around them (Ledoit-Wolf shrinkage), inverted.

    Per source rather than per class: a detector trained on many generators has FAKE images in
    several clusters, and an image between them is far from every one of them, while it may
    sit near the mean of all FAKE images. Sources too small for a mean join their class
    (`FAKE/x` -> `FAKE`).
    """
    features = np.asarray(features, dtype=np.float64)
    names = np.asarray(sources).astype(str)
    found, counts = np.unique(names, return_counts=True)
    small = set(found[counts < MIN_SOURCE_IMAGES].tolist())
    names = np.array([name.split("/")[0] if name in small else name for name in names])
    groups, index = np.unique(names, return_inverse=True)
    means = np.stack([features[index == g].mean(axis=0) for g in range(len(groups))])
    centred = features - means[index]
    precision = LedoitWolf(assume_centered=True).fit(centred).precision_
    return FeatureStats(means, precision)


def choose_rule(
    labels: np.ndarray,
    prob_fake: np.ndarray,
    distance: np.ndarray,
    detail: np.ndarray,
    threshold: float,
    *,
    uncertain_share: float,
    unfamiliar_share: float,
    smooth_share: float,
    feature_file: str,
) -> UncertaintyRule:
    """The band around the threshold that, with the two limits, keeps the uncertain share of
    these (validation) images within `uncertain_share` and sets aside the most wrong answers.

    The limits are quantiles: `unfamiliar_share` of the images lie beyond `max_distance`,
    `smooth_share` below `min_detail`. The band gets the rest of the budget: the images
    closest to the threshold (in logit), split between its two sides where that sets aside
    the most errors (a model is often surer on one side than on the other).
    """
    labels = np.asarray(labels).astype(int)
    prob_fake, distance, detail = (np.asarray(a, np.float64) for a in (prob_fake, distance, detail))
    max_distance = float(np.quantile(distance, 1 - unfamiliar_share))
    min_detail = float(np.quantile(detail, smooth_share)) if smooth_share > 0 else 0.0
    other = (distance > max_distance) | (detail < min_detail)
    budget = max(int(np.floor(uncertain_share * len(prob_fake))) - int(other.sum()), 0)
    centre = float(logit(np.array([threshold]))[0])
    offset = (logit(prob_fake) - centre)[~other]
    wrong = (predicted_labels(prob_fake, threshold) != labels)[~other]
    below, above = (
        _side(-offset[offset < 0], wrong[offset < 0]),
        _side(offset[offset >= 0], wrong[offset >= 0]),
    )
    low_count = _best_split(below[1], above[1], budget)
    band = [
        float(1 / (1 + np.exp(-(centre - _width(below[0], low_count))))),
        float(1 / (1 + np.exp(-(centre + _width(above[0], budget - low_count))))),
    ]
    draft = UncertaintyRule(
        band=band,
        min_detail=min_detail,
        max_distance=max_distance,
        feature_file=feature_file,
        val_share=0.0,
        val_shares={},
    )
    by_reason = uncertain_by_reason(draft, prob_fake, distance, detail)
    return draft.replace(
        val_share=float(np.logical_or.reduce(list(by_reason.values())).mean()),
        val_shares={code: float(mark.mean()) for code, mark in by_reason.items()},
    )


def _side(gaps: np.ndarray, wrong: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One side of the threshold, nearest first: the gaps and the running count of errors."""
    order = np.argsort(gaps, kind="stable")
    return gaps[order], np.r_[0, np.cumsum(wrong[order])]


def _best_split(errors_below: np.ndarray, errors_above: np.ndarray, budget: int) -> int:
    """How many of the budget go below the threshold: the most errors set aside, the most
    even split among equals."""
    splits = [
        i for i in range(budget + 1) if i < len(errors_below) and budget - i < len(errors_above)
    ]
    if not splits:
        return 0
    caught = [errors_below[i] + errors_above[budget - i] for i in splits]
    best = max(caught)
    return min(
        (i for i, c in zip(splits, caught, strict=True) if c == best),
        key=lambda i: abs(2 * i - budget),
    )


def _width(gaps: np.ndarray, count: int) -> float:
    """A half-width that holds exactly the `count` nearest gaps strictly inside it."""
    if count < len(gaps):
        return float(gaps[count])
    return float(gaps[-1]) + 1.0 if len(gaps) else 0.0


def certain_answer_scores(
    labels: np.ndarray, prob_fake: np.ndarray, uncertain: np.ndarray, threshold: float
) -> Selective:
    """Coverage (share of certain answers) and the accuracy on certain and uncertain ones."""
    labels = np.asarray(labels).astype(int)
    right = predicted_labels(prob_fake, threshold) == labels
    certain = ~np.asarray(uncertain, bool)
    return Selective(
        n=len(labels),
        coverage=float(certain.mean()) if len(labels) else 0.0,
        certain_accuracy=float(right[certain].mean()) if certain.any() else 0.0,
        uncertain_accuracy=float(right[~certain].mean()) if (~certain).any() else None,
    )


def coverage_curve(
    labels: np.ndarray, prob_fake: np.ndarray, threshold: float, points: int = 50
) -> list[dict[str, float]]:
    """Accuracy on the answers kept when the least confident are set aside, per coverage.

    Confidence is the distance of the logit from the threshold's, the same order the band uses.
    """
    labels = np.asarray(labels).astype(int)
    right = predicted_labels(prob_fake, threshold) == labels
    centre = float(logit(np.array([threshold]))[0])
    order = np.argsort(-np.abs(logit(prob_fake) - centre), kind="stable")
    cumulative = np.cumsum(right[order])
    rows = []
    for coverage in np.linspace(1.0 / points, 1.0, points):
        kept = max(round(float(coverage) * len(labels)), 1)
        rows.append(
            {
                "coverage": float(kept / len(labels)),
                "accuracy": float(cumulative[kept - 1] / kept),
            }
        )
    return rows
