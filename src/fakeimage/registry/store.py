"""The MLflow side of promotion: candidate runs, registry versions, the imported reference.

Every model the registry knows has a run whose `detector/` artifacts are a complete model
folder (model.keras, card.json, training_images.npy), so any version can be downloaded, scored
and exported the same way, the shipped reference included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from fakeimage.config import params_to_dict
from fakeimage.data.hashes import TRAINING_IMAGES_FILE
from fakeimage.errors import UserError
from fakeimage.models.card import CARD_FILE, Lineage, ModelCard
from fakeimage.models.card_markdown import MARKDOWN_FILE
from fakeimage.models.inference import MODEL_FILE, load_keras_model
from fakeimage.registry.promotion import metric_key
from fakeimage.tracking import model_requirements, provenance_tags

MODEL_DESCRIPTION = "CNN that tells AI-generated (FAKE) images from real ones (REAL)."


def best_candidate(
    client: MlflowClient, experiment_id: str, data_fingerprint: str, metric: str
) -> Any:
    """The evaluated run with the best validation metric on this data."""
    key = metric_key(metric)
    order = "ASC" if metric.endswith("loss") else "DESC"
    runs = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.data_fingerprint = '{data_fingerprint}' and tags.evaluated = 'true' "
            "and attributes.status = 'FINISHED'"
        ),
        order_by=[f"metrics.{key} {order}", "attributes.start_time ASC"],
        max_results=50,
    )
    runs = [r for r in runs if key in r.data.metrics and "model_uri" in r.data.tags]
    if not runs:
        raise UserError("no evaluated run on the current data: run the train and evaluate stages")
    return runs[0]


def aliased_version(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def has_registered_model(client: MlflowClient, name: str) -> bool:
    try:
        client.get_registered_model(name)
    except MlflowException:
        return False
    return True


def register_run(client: MlflowClient, name: str, run_id: str, model_uri: str) -> str:
    """The registry version of the run's model, registering it once."""
    if not has_registered_model(client, name):
        client.create_registered_model(name, description=MODEL_DESCRIPTION)
    existing = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    if existing:
        return str(max(int(v.version) for v in existing))
    # A logged model's URI (models:/m-...) names its id; a tracking server insists on it.
    logged = model_uri.removeprefix("models:/")
    model_id = logged if model_uri.startswith("models:/m-") else None
    version = client.create_model_version(name, model_uri, run_id=run_id, model_id=model_id)
    return str(version.version)


def import_reference(
    client: MlflowClient, experiment_id: str, name: str, reference_dir: Path
) -> str:
    """Log the shipped reference as a run of its own (marked imported) and register it."""
    card = ModelCard.load(reference_dir)
    model = load_keras_model(reference_dir / MODEL_FILE)
    tags = {
        **provenance_tags(),
        "imported": "true",
        "imported_from": str(reference_dir),
        "data_fingerprint": card.data.fingerprint,
        "data_source": card.data.source,
        "arch": card.architecture.arch,
        "hardware": card.training.hardware,
        "precision_policy": card.training.precision_policy,
    }
    with mlflow.start_run(
        experiment_id=experiment_id, run_name="reference (imported)", tags=tags
    ) as run:
        mlflow.log_params(params_to_dict(card.params))
        mlflow.log_metrics(_card_metrics(card))
        info = mlflow.keras.log_model(
            model,
            name="model",
            pip_requirements=model_requirements(),
            signature=mlflow.models.infer_signature(
                np.zeros((1, 32, 32, 3), np.float32), np.zeros((1, 1), np.float32)
            ),
        )
        mlflow.set_tag("model_uri", info.model_uri)
        lineage = Lineage(
            imported=True,
            imported_from=f"{reference_dir} (trained in MLflow run {card.run_id})",
        )
        imported = card.model_copy(
            update={"run_id": run.info.run_id, "model_uri": info.model_uri, "lineage": lineage}
        )
        files = [MODEL_FILE, TRAINING_IMAGES_FILE, MARKDOWN_FILE]
        if card.uncertainty is not None:
            files.append(card.uncertainty.feature_file)
        for file in files:
            mlflow.log_artifact(str(reference_dir / file), "detector")
        mlflow.log_text(imported.to_json(), f"detector/{CARD_FILE}")
    return register_run(client, name, run.info.run_id, info.model_uri)


def _card_metrics(card: ModelCard) -> dict[str, float]:
    metrics = {
        "parameters": card.architecture.parameters,
        "macs": card.architecture.macs,
        "train_seconds": card.training.seconds,
        "epochs_run": card.training.epochs_run,
    }
    if card.evaluation:
        metrics["threshold"] = card.evaluation.threshold
        for prefix, scores in (("test", card.evaluation.test), ("tuned_val", card.evaluation.val)):
            for key, value in scores.model_dump().items():
                if isinstance(value, float):
                    metrics[f"{prefix}_{key}"] = value
    return {key: float(value) for key, value in metrics.items()}


def download_detector_folder(run_id: str, scratch: Path) -> Path:
    """The run's detector folder (model, card, training-image record), downloaded."""
    try:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path="detector", dst_path=str(scratch / run_id)
            )
        )
    except MlflowException as exc:
        raise UserError(f"cannot download the model of run {run_id}: {exc.message}") from None
    if not (folder / CARD_FILE).is_file():
        raise UserError(
            f"run {run_id} has no detector/{CARD_FILE}: it was made by an older version of this "
            "project; start a new store (move mlflow.db away) or re-run its pipeline"
        )
    return folder


def describe_version(
    client: MlflowClient, name: str, version: str, card: ModelCard, tags: dict[str, str]
) -> None:
    """A registry version's description and tags: data, test accuracy, promotion outcome."""
    test = card.evaluation.test if card.evaluation else None
    accuracy = f"{test.accuracy:.4f}" if test else "n/a"
    description = (
        f"{card.architecture.arch} trained on {card.data.description}; held-out test accuracy "
        f"{accuracy}. Promotion: {tags.get('promotion_reason', 'n/a')}"
    )
    client.update_model_version(name, version, description=description)
    base = {"data_source": card.data.source, "test_accuracy": accuracy}
    for key, value in {**base, **tags}.items():
        client.set_model_version_tag(name, version, key, value)
