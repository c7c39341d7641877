"""promote: register the best run on the current data; move `champion` if it wins; export it."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from mlflow import MlflowClient

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.models.inference import METADATA_FILE, save_detector
from fakeimage.paths import CHAMPION_DIR, DATA_REPORT, REPORTS_DIR, TRAINED_DIR
from fakeimage.registry.model_card import render_model_card
from fakeimage.registry.promotion import (
    best_candidate,
    current_champion,
    decide,
    download_detector_files,
    register,
)
from fakeimage.tracking import configure_tracking


def run(params: Params) -> None:
    settings = params.promote
    configure_tracking(params.mlflow.experiment)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(params.mlflow.experiment)
    trained = json.loads((TRAINED_DIR / METADATA_FILE).read_text())
    fingerprint = trained["data_fingerprint"]

    candidate = best_candidate(client, experiment.experiment_id, fingerprint, settings.metric)
    champion = current_champion(client, settings.model_name, settings.alias, settings.metric)
    decision = decide(candidate, champion, settings.metric)
    version = register(client, settings.model_name, candidate)
    if decision.promote:
        client.set_registered_model_alias(settings.model_name, settings.alias, version)
    champion_version = client.get_model_version_by_alias(settings.model_name, settings.alias)
    champion_run = client.get_run(champion_version.run_id)

    with tempfile.TemporaryDirectory(prefix="fakeimage-champion-") as scratch:
        model_file, evaluation = download_detector_files(champion_run.info.run_id, Path(scratch))
        metadata = {
            "name": settings.model_name,
            "version": str(champion_version.version),
            "alias": settings.alias,
            "run_id": champion_run.info.run_id,
            "threshold": evaluation["threshold"],
            "threshold_policy": evaluation["threshold_policy"],
            "flip_tta": evaluation["flip_tta"],
            "arch": champion_run.data.params.get("model.arch"),
            "parameters": int(champion_run.data.metrics.get("parameters", 0)),
            "macs": int(champion_run.data.metrics.get("macs", 0)),
            "epochs_run": int(champion_run.data.metrics.get("epochs_run", 0)),
            "best_epoch": int(champion_run.data.metrics.get("best_epoch", 0)),
            "train_seconds": champion_run.data.metrics.get("train_seconds", 0.0),
            "hardware": champion_run.data.tags.get("hardware", "n/a"),
            "precision_policy": champion_run.data.tags.get("precision_policy", "n/a"),
            "data_fingerprint": champion_run.data.tags.get("data_fingerprint"),
            "data": {
                "source": champion_run.data.params.get("data.source"),
                "splits": json.loads(DATA_REPORT.read_text())["splits"]
                if champion_run.data.tags.get("data_fingerprint") == fingerprint
                else "see the MLflow run",
            },
            "metrics": {"test": evaluation["test"], "val": evaluation["val"]},
            "robustness": evaluation["robustness"],
            "params": dict(champion_run.data.params),
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reproduce": "dvc repro",
        }
        card = render_model_card(metadata)
        save_detector(CHAMPION_DIR, model_file, metadata, {"MODEL_CARD.md": card})

    report = {
        "candidate_run": candidate.run_id,
        "candidate_version": version,
        "metric": settings.metric,
        "candidate_value": candidate.value,
        "previous_champion_run": champion.run_id if champion else None,
        "previous_champion_value": champion.value if champion else None,
        "promoted": decision.promote,
        "reason": decision.reason,
        "champion_version": str(champion_version.version),
        "champion_run": champion_run.info.run_id,
    }
    write_json(REPORTS_DIR / "promotion.json", report)
    verdict = "promoted" if decision.promote else "kept the champion"
    print(
        f"promote: {verdict}: {decision.reason}; {settings.model_name}@{settings.alias} is "
        f"version {champion_version.version}, exported to {CHAMPION_DIR}"
    )
