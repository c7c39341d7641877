"""The champion rule: a challenger takes the alias only if it beats the champion on the same images.

Both models are scored now, through the same forward path, on the current validation images
that neither of them trained on. The challenger wins only if the one-sided 95% lower bound of
the paired bootstrap difference of the metric (challenger minus champion, resampling images) is
above zero: a lead smaller than the sampling noise of those images keeps the champion. Nor may
it lose on any one source beyond a tolerance (`registry.gates`). A model trained on the
synthetic stand-in never displaces one trained on real data, and with too few unseen images
the champion stays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score

from fakeimage.data.dataset import Dataset
from fakeimage.data.hashes import seen_in_training
from fakeimage.registry.gates import CONFIDENCE, RESAMPLES, SourceGate, blocking, source_gates

_EPS = 1e-7


@dataclass(frozen=True)
class Scored:
    """One model's view of the shared images: P(FAKE) and its own decision threshold."""

    probabilities: np.ndarray
    threshold: float


@dataclass(frozen=True)
class Contender:
    """A model as the rule sees it: how it scores, where it decides, what it trained on."""

    score: Callable[[np.ndarray], np.ndarray]
    threshold: float
    training_images: np.ndarray
    """The record of its training images (see `fakeimage.data.hashes`)."""
    real_data: bool


@dataclass(frozen=True)
class Comparison:
    metric: str
    images: int
    champion: float
    challenger: float
    lower_bound: float
    """One-sided lower bound of the paired improvement (in "higher is better" units)."""

    @property
    def challenger_ahead(self) -> bool:
        if self.metric == "val_loss":
            return self.challenger < self.champion
        return self.challenger > self.champion


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


@dataclass(frozen=True)
class Challenge:
    """What the rule found: its decision, the overall comparison, the per-source gates, and
    how many validation images each model had seen."""

    decision: Decision
    comparison: Comparison | None
    counts: dict[str, int]
    gates: list[SourceGate] = field(default_factory=list)


def correct(labels: np.ndarray, scored: Scored) -> np.ndarray:
    """Which images the model gets right at its own threshold (1.0) and which not (0.0)."""
    return ((scored.probabilities >= scored.threshold) == labels.astype(bool)).astype(np.float64)


def _per_image_gain(metric: str, labels: np.ndarray, scored: Scored) -> np.ndarray | None:
    """Per-image contributions for metrics that are means (accuracy, log loss), gain-oriented."""
    if metric == "val_accuracy":
        return correct(labels, scored)
    p = np.clip(scored.probabilities, _EPS, 1 - _EPS)
    if metric == "val_loss":  # negative log loss: higher is better
        return np.where(labels == 1, np.log(p), np.log(1 - p))
    return None


def _resampled_auc(labels: np.ndarray, scores: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """ROC-AUC of every resample at once (Mann-Whitney U from tied ranks); NaN for one class."""
    truth = labels[samples]
    ranks = rankdata(scores[samples], axis=1)
    positives = truth.sum(axis=1)
    negatives = truth.shape[1] - positives
    u = (ranks * truth).sum(axis=1) - positives * (positives + 1) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positives * negatives > 0, u / (positives * negatives), np.nan)


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
        differences = _resampled_auc(labels, challenger.probabilities, samples) - _resampled_auc(
            labels, champion.probabilities, samples
        )
        differences = differences[~np.isnan(differences)]
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
    gates: Sequence[SourceGate] = (),
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
    blocked = blocking(gates)
    if comparison.lower_bound > 0:
        if blocked:
            losses = "; ".join(gate.describe() for gate in blocked)
            return Decision(
                False,
                f"{scores}, but it loses more than promote.source_tolerance "
                f"({100 * blocked[0].tolerance:.2f} points) on {losses}",
            )
        return Decision(True, f"{scores}; the lead is above the sampling noise (95% bound > 0)")
    verdict = "the lead is within the sampling noise"
    if not comparison.challenger_ahead:
        verdict = "the challenger is not better"
    if blocked:
        losses = ", ".join(
            f"{gate.source} {gate.champion:.2%} vs {gate.challenger:.2%}" for gate in blocked
        )
        verdict += f", and it loses beyond the tolerance on {losses}"
    return Decision(False, f"{scores}; {verdict}")


def challenge(
    champion: Contender,
    challenger: Contender,
    val: Dataset,
    *,
    metric: str,
    min_unseen_images: int,
    source_tolerance: float,
) -> Challenge:
    """Score both on the validation images neither trained on, overall and source by source,
    then apply the rule; the counts say how many images each had seen."""
    seen_by_champion = seen_in_training(val.x, champion.training_images)
    seen_by_challenger = seen_in_training(val.x, challenger.training_images)
    unseen = ~(seen_by_champion | seen_by_challenger)
    counts = {
        "validation_images": len(val.y),
        "seen_by_champion": int(seen_by_champion.sum()),
        "seen_by_challenger": int(seen_by_challenger.sum()),
        "unseen_images": int(unseen.sum()),
    }
    shared, truth = val.x[unseen], np.asarray(val.y)[unseen].astype(np.int64)
    comparison, gates = None, []
    if counts["unseen_images"] >= min_unseen_images and len(set(truth.tolist())) == 2:
        scored = [Scored(model.score(shared), model.threshold) for model in (champion, challenger)]
        comparison = compare(metric, truth, *scored)
        right = [correct(truth, each) for each in scored]
        gates = source_gates(val.source_names()[unseen], *right, source_tolerance)
    decision = decide(
        comparison,
        unseen_images=counts["unseen_images"],
        min_unseen_images=min_unseen_images,
        challenger_real=challenger.real_data,
        champion_real=champion.real_data,
        gates=gates,
    )
    return Challenge(decision, comparison, counts, gates)
