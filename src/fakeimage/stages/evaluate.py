"""evaluate: score the trained model on the test split with a threshold chosen on validation."""

from __future__ import annotations

import mlflow
import numpy as np

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.data.preprocess import load_split
from fakeimage.evaluation.evaluate import robustness_table, worst_corruption
from fakeimage.evaluation.metrics import choose_threshold, classification_metrics
from fakeimage.evaluation.plots import draw_figures, plot_records
from fakeimage.models.card import CARD_FILE, Evaluation, Scores
from fakeimage.models.inference import load_detector
from fakeimage.paths import REPORTS_DIR, TRAINED_DIR, split_path
from fakeimage.tracking import configure_tracking

PLOTS_DIR = REPORTS_DIR / "plots"
FIGURES_DIR = REPORTS_DIR / "figures"


def run(params: Params) -> None:
    settings = params.evaluate
    detector = load_detector(TRAINED_DIR)
    card = detector.card
    assert card is not None  # the train stage always writes one

    def score(images: np.ndarray) -> np.ndarray:
        return detector.predict_proba(images, flip_tta=settings.flip_tta)

    val, test = load_split(split_path("val")), load_split(split_path("test"))

    val_probabilities = score(val.x)
    threshold = choose_threshold(
        val.y, val_probabilities, settings.threshold_policy, settings.fixed_threshold
    )
    bins = settings.calibration_bins
    val_metrics = classification_metrics(val.y, val_probabilities, threshold, bins)
    test_probabilities = score(test.x)
    test_metrics = classification_metrics(test.y, test_probabilities, threshold, bins)
    robustness = robustness_table(score, test, threshold, bins)
    worst, worst_accuracy = worst_corruption(robustness)

    evaluation = {
        "threshold": threshold,
        "threshold_policy": settings.threshold_policy,
        "flip_tta": settings.flip_tta,
        "test": test_metrics,
        "val": val_metrics,
        "robust_worst": {"corruption": worst, "accuracy": worst_accuracy},
    }
    write_json(REPORTS_DIR / "metrics.json", evaluation)
    write_json(REPORTS_DIR / "robustness.json", robustness)
    records = plot_records(test.y, test_probabilities, threshold, bins)
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
        mlflow.set_tag("robust_worst", worst)
        for figure in figures:
            mlflow.log_artifact(str(figure), "figures")
        mlflow.log_text(evaluated.to_json(), f"detector/{CARD_FILE}")
        mlflow.set_tag("evaluated", "true")

    print(
        f"evaluate: test accuracy {test_metrics['accuracy']:.4f}, ROC-AUC "
        f"{test_metrics['roc_auc']:.4f}, F1 {test_metrics['f1']:.4f} at threshold {threshold:.3f} "
        f"({settings.threshold_policy} on validation); worst of {len(robustness)} corruptions: "
        f"{worst} {worst_accuracy:.4f}"
    )
