"""evaluate: choose the decision rule on validation, score the test split (clean and
corrupted); write models/evaluated and the reports, and mirror them to the model's run."""

from __future__ import annotations

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.data.dataset import load_prepared
from fakeimage.detector.folder import DetectorFolder, write_folder
from fakeimage.evaluation.evaluator import evaluate_detector, metrics_report
from fakeimage.evaluation.plots import draw_figures
from fakeimage.models.keras_detector import load_detector
from fakeimage.paths import DATA_REPORT, EVALUATED_DIR, PREPARED_DIR, REPORTS_DIR, TRAINED_DIR
from fakeimage.registry import store

PLOTS_DIR = REPORTS_DIR / "plots"
FIGURES_DIR = REPORTS_DIR / "figures"


def run(params: Params) -> None:
    trained = DetectorFolder(TRAINED_DIR)
    prepared = load_prepared(PREPARED_DIR, DATA_REPORT)
    evaluated = evaluate_detector(
        load_detector(trained.path), prepared, params.evaluate, params.data.split_seed
    )
    card, evaluation = evaluated.card, evaluated.evaluation
    folder = write_folder(
        EVALUATED_DIR,
        card,
        model=trained.model_file,
        record=trained.training_record(),
        stats=evaluated.stats,
    )
    write_json(REPORTS_DIR / "metrics.json", metrics_report(evaluated))
    write_json(REPORTS_DIR / "robustness.json", evaluation.robustness)
    for name, rows in evaluated.plots.items():
        write_json(PLOTS_DIR / f"{name}.json", rows)
    test = evaluation.test.model_dump()
    figures = draw_figures(evaluated.plots, test, evaluation.robustness, FIGURES_DIR)
    store.configure_tracking(params.mlflow.experiment)
    store.record_evaluation(card, folder, figures)
    for line in evaluated.summary():
        print(f"evaluate: {line}")
