"""evaluate: calibrate on validation, choose the threshold and the uncertainty rule there, then
score the trained model on the test split (clean and corrupted)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.data.preprocess import load_split
from fakeimage.evaluation.evaluate import robustness_table, worst_corruption
from fakeimage.evaluation.metrics import choose_threshold, classification_metrics
from fakeimage.evaluation.plots import draw_figures, plot_records
from fakeimage.evaluation.uncertainty import (
    choose_rule,
    coverage_curve,
    feature_sample,
    fit_calibration,
    fit_feature_stats,
    selective_scores,
)
from fakeimage.models.card import CARD_FILE, Evaluation, Scores
from fakeimage.models.inference import load_detector
from fakeimage.models.uncertainty import (
    FEATURE_FILE,
    calibrate,
    detail_energy,
    uncertain_marks,
)
from fakeimage.paths import REPORTS_DIR, TRAINED_DIR, split_path
from fakeimage.tracking import configure_tracking

PLOTS_DIR = REPORTS_DIR / "plots"
FIGURES_DIR = REPORTS_DIR / "figures"


def run(params: Params) -> None:
    settings = params.evaluate
    detector = load_detector(TRAINED_DIR)
    card = detector.card
    assert card is not None  # the train stage always writes one

    def raw_scores(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return detector.raw_scores(images, flip_tta=settings.flip_tta)

    train, val, test = (load_split(split_path(name)) for name in ("train", "val", "test"))
    bins = settings.calibration_bins
    val_raw, val_features = raw_scores(val.x)
    calibration = fit_calibration(val.y, val_raw, bins)
    val_probabilities = calibrate(calibration, val_raw)
    threshold = choose_threshold(
        val.y, val_probabilities, settings.threshold_policy, settings.fixed_threshold
    )
    val_metrics = classification_metrics(val.y, val_probabilities, threshold, bins)
    test_raw, test_features = raw_scores(test.x)
    test_probabilities = calibrate(calibration, test_raw)
    test_metrics = classification_metrics(test.y, test_probabilities, threshold, bins)

    def score(images: np.ndarray) -> np.ndarray:
        return calibrate(calibration, raw_scores(images)[0])

    robustness = robustness_table(score, test, threshold, bins)
    worst, worst_accuracy = worst_corruption(robustness)

    familiar = feature_sample(train, settings.feature_images, params.data.split_seed)
    stats = fit_feature_stats(raw_scores(familiar.x)[1], familiar.y)
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
    test_marks = uncertain_marks(
        rule, test_probabilities, stats.distance(test_features), detail_energy(test.x)
    )
    test_uncertain = np.logical_or.reduce(list(test_marks.values()))
    selective = selective_scores(test.y, test_probabilities, test_uncertain, threshold)

    evaluation = {
        "threshold": threshold,
        "threshold_policy": settings.threshold_policy,
        "flip_tta": settings.flip_tta,
        "test": test_metrics,
        "val": val_metrics,
        "robust_worst": {"corruption": worst, "accuracy": worst_accuracy},
        "calibration": calibration.model_dump(),
        "uncertain": {
            "val_share": rule.val_share,
            "test_share": float(test_uncertain.mean()),
            "test_shares": {code: float(mark.mean()) for code, mark in test_marks.items()},
            "test_certain_accuracy": selective.certain_accuracy,
        },
    }
    write_json(REPORTS_DIR / "metrics.json", evaluation)
    write_json(REPORTS_DIR / "robustness.json", robustness)
    records = plot_records(test.y, test_probabilities, threshold, bins)
    records["coverage"] = coverage_curve(test.y, test_probabilities, threshold)
    for name, rows in records.items():
        write_json(PLOTS_DIR / f"{name}.json", rows)
    figures = draw_figures(records, test_metrics, robustness, FIGURES_DIR)

    configure_tracking(params.mlflow.experiment)
    evaluated = card.model_copy(
        update={
            "evaluation": Evaluation(
                threshold=threshold,
                threshold_policy=settings.threshold_policy,
                flip_tta=settings.flip_tta,
                val=Scores(**val_metrics),
                test=Scores(**test_metrics),
                robustness=robustness,
                calibration=calibration,
                uncertainty=rule,
                selective=selective,
            )
        }
    )
    with mlflow.start_run(run_id=card.run_id):
        mlflow.log_metric("threshold", threshold)
        # "tuned_val": validation at the chosen threshold; plain val_* are Keras' per-epoch series.
        for prefix, scores in (("test", test_metrics), ("tuned_val", val_metrics)):
            mlflow.log_metrics(
                {f"{prefix}_{k}": float(v) for k, v in scores.items() if isinstance(v, float)}
            )
        for corruption, scores in robustness.items():
            mlflow.log_metrics({f"robust_{corruption}_{k}": float(v) for k, v in scores.items()})
        mlflow.log_metric("robust_worst_accuracy", worst_accuracy)
        mlflow.log_metrics(
            {
                "ece_before_calibration": calibration.ece_before,
                "ece_after_calibration": calibration.ece_after,
                "test_coverage": selective.coverage,
                "test_certain_accuracy": selective.certain_accuracy,
            }
        )
        mlflow.set_tag("robust_worst", worst)
        for figure in figures:
            mlflow.log_artifact(str(figure), "figures")
        mlflow.log_text(evaluated.to_json(), f"detector/{CARD_FILE}")
        with tempfile.TemporaryDirectory(prefix="fakeimage-evaluate-") as scratch:
            stats.save(Path(scratch) / FEATURE_FILE)
            mlflow.log_artifact(str(Path(scratch) / FEATURE_FILE), "detector")
        mlflow.set_tag("evaluated", "true")

    print(
        f"evaluate: test accuracy {test_metrics['accuracy']:.4f}, ROC-AUC "
        f"{test_metrics['roc_auc']:.4f}, F1 {test_metrics['f1']:.4f} at threshold {threshold:.3f} "
        f"({settings.threshold_policy} on validation); worst of {len(robustness)} corruptions: "
        f"{worst} {worst_accuracy:.4f}"
    )
    print(
        f"evaluate: calibrated (ECE {calibration.ece_before:.4f} -> {calibration.ece_after:.4f} "
        f"on validation); uncertain: {rule.val_share:.1%} of validation, "
        f"{1 - selective.coverage:.1%} of test, where the certain answers are "
        f"{selective.certain_accuracy:.2%} right"
    )
