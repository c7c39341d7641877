"""The evaluate stage's work: choose the decision rule on validation, then score the test split.

On validation: Platt calibration of the network's logit, the threshold, and the uncertainty
rule (a band around the threshold, a fine-detail limit, a feature-distance limit whose
statistics come from a sample of training images). On the test split, clean and under every
corruption of the sweep: the metrics, the certain answers' accuracy, and the plot records.
Everything lands on the card (`Evaluation`), the one record that metrics.json, MLflow and
the Markdown card are all derived from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from fakeimage.config import EvaluateParams
from fakeimage.data.dataset import Prepared
from fakeimage.detector.card import Evaluation, ModelCard, Scores, SourceScores
from fakeimage.detector.folder import FEATURE_FILE
from fakeimage.detector.uncertainty import (
    FeatureStats,
    calibrate,
    detail_energy,
    uncertain_by_reason,
)
from fakeimage.evaluation.fitting import (
    certain_answer_scores,
    choose_rule,
    coverage_curve,
    feature_sample,
    fit_calibration,
    fit_feature_stats,
)
from fakeimage.evaluation.folders import source_report
from fakeimage.evaluation.metrics import choose_threshold, classification_metrics
from fakeimage.evaluation.plots import plot_records
from fakeimage.evaluation.robustness import robustness_table, worst_corruption
from fakeimage.models.keras_detector import Detector


@dataclass(frozen=True)
class Evaluated:
    """An evaluated detector: its card with the evaluation, the feature statistics of its
    uncertainty rule, and the records of the DVC plots."""

    card: ModelCard
    stats: FeatureStats
    plots: dict[str, list[dict[str, Any]]]
    reason_shares: dict[str, float]
    """Share of the test images each reason alone marks uncertain."""

    @property
    def evaluation(self) -> Evaluation:
        if self.card.evaluation is None:
            raise ValueError("an evaluated card always has its evaluation")
        return self.card.evaluation

    def summary(self) -> list[str]:
        """What the stage prints: the test scores, the worst corruption, the decision rule."""
        evaluation = self.evaluation
        test, worst = evaluation.test, metrics_report(self)["robust_worst"]
        lines = [
            f"test accuracy {test.accuracy:.4f}, ROC-AUC {test.roc_auc:.4f}, F1 {test.f1:.4f} "
            f"at threshold {evaluation.threshold:.3f} ({evaluation.threshold_policy} on "
            f"validation); worst of {len(evaluation.robustness)} corruptions: "
            f"{worst['corruption']} {worst['accuracy']:.4f}"
        ]
        calibration, rule, certain = (
            evaluation.calibration,
            self.card.uncertainty,
            evaluation.selective,
        )
        if calibration and rule and certain:
            lines.append(
                f"calibrated (ECE {calibration.ece_before:.4f} -> {calibration.ece_after:.4f} "
                f"on validation); uncertain: {rule.val_share:.1%} of validation, "
                f"{1 - certain.coverage:.1%} of test, where the certain answers are "
                f"{certain.certain_accuracy:.2%} right"
            )
        return lines


def evaluate_detector(
    detector: Detector, prepared: Prepared, settings: EvaluateParams, seed: int
) -> Evaluated:
    """Choose the decision rule on validation and score the test split with it."""
    val, test, bins = prepared.val, prepared.test, settings.calibration_bins

    def raw_scores(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return detector.raw_scores(images, flip_tta=settings.flip_tta)

    val_raw, val_features = raw_scores(val.x)
    calibration = fit_calibration(val.y, val_raw, bins)
    val_probabilities = calibrate(calibration, val_raw)
    threshold = choose_threshold(
        val.y,
        val_probabilities,
        settings.threshold_policy,
        settings.fixed_threshold,
        settings.max_real_error,
    )
    test_raw, test_features = raw_scores(test.x)
    test_probabilities = calibrate(calibration, test_raw)
    test_scores = classification_metrics(test.y, test_probabilities, threshold, bins)

    def score(images: np.ndarray) -> np.ndarray:
        return calibrate(calibration, raw_scores(images)[0])

    familiar = feature_sample(prepared.train, settings.feature_images, seed)
    stats = fit_feature_stats(raw_scores(familiar.x)[1], familiar.source_names())
    rule = choose_rule(
        val.y,
        val_probabilities,
        stats.distance(val_features),
        detail_energy(val.x),
        threshold,
        uncertain_share=settings.uncertain_share,
        unfamiliar_share=settings.unfamiliar_share,
        smooth_share=settings.smooth_share,
        feature_file=FEATURE_FILE,
    )
    by_reason = uncertain_by_reason(
        rule, test_probabilities, stats.distance(test_features), detail_energy(test.x)
    )
    uncertain = np.logical_or.reduce(list(by_reason.values()))
    certain = certain_answer_scores(test.y, test_probabilities, uncertain, threshold)
    evaluation = Evaluation(
        threshold=threshold,
        threshold_policy=settings.threshold_policy,
        flip_tta=settings.flip_tta,
        val=Scores(**classification_metrics(val.y, val_probabilities, threshold, bins)),
        test=Scores(**test_scores),
        robustness=robustness_table(score, test, threshold, bins),
        calibration=calibration,
        uncertainty=rule,
        selective=certain,
        sources={
            name: SourceScores(**{k: v for k, v in row.items() if k != "recall"})
            for name, row in source_report(
                test.y, test_probabilities, uncertain, list(test.sources), threshold
            ).items()
        },
    )
    plots = plot_records(test.y, test_probabilities, threshold, bins)
    plots["coverage"] = coverage_curve(test.y, test_probabilities, threshold)
    plots["sources"] = [
        {"source": name, **scores.model_dump()}
        for name, scores in (evaluation.sources or {}).items()
    ]
    shares = {code: float(mark.mean()) for code, mark in by_reason.items()}
    return Evaluated(detector.card.replace(evaluation=evaluation), stats, plots, shares)


def metrics_report(evaluated: Evaluated) -> dict[str, Any]:
    """reports/metrics.json: the card's evaluation without its per-corruption table (which goes
    to reports/robustness.json), with the worst corruption named."""
    evaluation = evaluated.evaluation
    worst, accuracy = worst_corruption(evaluation.robustness)
    return {
        **evaluation.model_dump(exclude={"robustness"}),
        "robust_worst": {"corruption": worst, "accuracy": accuracy},
        "uncertain_test_shares": evaluated.reason_shares,
    }
