"""The one module that talks to MLflow: the tracking store, runs, logged detectors, the registry.

What a run that carries a detector holds, whoever logs it (train, evaluate, the imported
reference):
- params: every setting of params.yaml, flattened (`config.params_to_dict`);
- metrics: Keras' per-epoch series, the training summary (`TRAINING_METRICS`) and, once
  evaluated, what `names.evaluation_metrics` derives from the card;
- the Keras network logged with `mlflow.keras` (its URI in the `model_uri` tag), which the
  registry's versions point at;
- `detector/`: a copy of the detector folder the stage wrote (`fakeimage.detector.folder`), so
  any version can be downloaded, scored and exported like a local folder; once a version is
  champion, also the ONNX graph promote exported and checked (`attach_graph`);
- `figures/`: the stage's charts.
Stages hand their results to each other through DVC; MLflow receives copies. Only promote
reads from here, and only the champion it challenges.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from fakeimage.config import params_to_dict
from fakeimage.detector.card import Lineage, ModelCard
from fakeimage.detector.folder import (
    CARD_FILE,
    MODEL_FILE,
    DetectorFolder,
    is_detector_folder,
    write_card,
)
from fakeimage.errors import UserError
from fakeimage.paths import tracking_uri
from fakeimage.provenance import pinned_requirements, provenance_tags
from fakeimage.registry.names import (
    NOTE_TAG,
    VIEW_TAG,
    card_tags,
    dashboard_view,
    evaluation_metrics,
    run_summary,
    summary_metrics,
    version_description,
    version_tags,
)

DETECTOR_ARTIFACTS = "detector"
FIGURE_ARTIFACTS = "figures"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
"""The MLflow UI opens an experiment by its kind: model training, not the GenAI overview."""
MODEL_DESCRIPTION = "CNN that tells AI-generated (FAKE) images from real ones (REAL)."


def configure_tracking(experiment: str | None = None) -> str:
    """Point MLflow at the project's store (see paths.tracking_uri); select the experiment."""
    # stage output stays ours: no progress bars, no notices about creating tables
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        selected = mlflow.set_experiment(experiment)
        if selected.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            MlflowClient().set_experiment_tag(
                selected.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
            )
        if VIEW_TAG not in selected.tags:
            share_view(selected.experiment_id, dashboard_view())
    return uri


def share_view(experiment_id: str, view: dict[str, object]) -> None:
    """Store the runs-table view that `dashboard_url` opens, on the experiment."""
    MlflowClient().set_experiment_tag(experiment_id, VIEW_TAG, json.dumps(view))


def experiment_id(name: str) -> str | None:
    """The id of the experiment `name` in the configured store, if it exists."""
    found = MlflowClient().get_experiment_by_name(name)
    return found.experiment_id if found else None


@contextmanager
def training_run(
    name: str, tags: dict[str, str], params: dict[str, Any], resume: str | None
) -> Iterator[str]:
    """A new run with this name, tags and params, or the run `resume` going on; its id."""
    if resume is not None:
        active = mlflow.start_run(run_id=resume)
    else:
        active = mlflow.start_run(run_name=name, tags=tags)
    with active:
        if resume is None:
            mlflow.log_params(params)
        yield active.info.run_id


def mark_failed(run_id: str) -> None:
    """End a run that nothing will resume as FAILED (if the store still has it)."""
    with contextlib.suppress(MlflowException):
        MlflowClient().set_terminated(run_id, "FAILED")


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Metrics of the active run (per epoch when `step` is given)."""
    mlflow.log_metrics({key: float(value) for key, value in metrics.items()}, step=step)


def log_keras_model(model: Any, images: np.ndarray, scores: np.ndarray) -> str:
    """Log the Keras network to the active run, with a signature from sample inputs and
    outputs and requirements pinned to this environment (given, so MLflow skips its slow
    inference of them); returns its URI."""
    info = mlflow.keras.log_model(
        model,
        name="model",
        pip_requirements=pinned_requirements(),
        signature=mlflow.models.infer_signature(
            np.asarray(images[:2], np.float32), np.asarray(scores[:2], np.float32).reshape(-1, 1)
        ),
    )
    mlflow.set_tag("model_uri", info.model_uri)
    return info.model_uri


def log_folder(folder: DetectorFolder, figures: Sequence[Path] = ()) -> None:
    """Copy a detector folder's files (and the stage's figures) into the active run."""
    for path in folder.files():
        mlflow.log_artifact(str(path), DETECTOR_ARTIFACTS)
    for figure in figures:
        mlflow.log_artifact(str(figure), FIGURE_ARTIFACTS)


def mirror(
    card: ModelCard,
    folder: DetectorFolder,
    metrics: dict[str, float],
    tags: dict[str, str],
    figures: Sequence[Path] = (),
) -> None:
    """Copy what a stage wrote (its detector folder, figures, metrics) into the model's run."""
    if card.run_id is None:
        raise ValueError(f"{card.label} was not trained in an MLflow run")
    with mlflow.start_run(run_id=card.run_id):
        log_metrics(metrics)
        mlflow.set_tags(tags)
        log_folder(folder, figures)


def record_evaluation(card: ModelCard, folder: DetectorFolder, figures: Sequence[Path]) -> None:
    """Mirror the evaluate stage's result into the run that trained the model."""
    if card.evaluation is None:
        raise ValueError(f"{card.label} has no evaluation to record")
    robustness = card.evaluation.robustness
    tags = {"evaluated": "true", NOTE_TAG: run_summary(card)}
    fakes = [name for name in card.evaluation.sources or {} if name.startswith("FAKE")]
    share_view(mlflow.get_run(card.run_id).info.experiment_id, dashboard_view(fakes))
    if robustness:
        tags["robust_worst"] = min(robustness, key=lambda c: robustness[c]["accuracy"])
    mirror(card, folder, evaluation_metrics(card), tags, figures)


@dataclass
class Registry:
    """The registered model `name` and its alias: versions, descriptions, downloads."""

    name: str
    alias: str

    def __post_init__(self) -> None:
        self.client = MlflowClient()

    def exists(self) -> bool:
        try:
            self.client.get_registered_model(self.name)
        except MlflowException:
            return False
        return True

    def champion(self) -> ModelVersion | None:
        """The version holding the alias, if any."""
        try:
            return self.client.get_model_version_by_alias(self.name, self.alias)
        except MlflowException:
            return None

    def crown(self, version: str) -> None:
        self.client.set_registered_model_alias(self.name, self.alias, version)

    def register(self, card: ModelCard) -> str:
        """The registry version of the card's run, registering it once."""
        if card.run_id is None or card.model_uri is None:
            raise UserError(f"{card.label} was never logged to MLflow: run the train stage")
        if not self.exists():
            self.client.create_registered_model(self.name, description=MODEL_DESCRIPTION)
        existing = self.client.search_model_versions(
            f"name = '{self.name}' and run_id = '{card.run_id}'"
        )
        if existing:
            return str(max(int(v.version) for v in existing))
        # A logged model's URI (models:/m-...) names its id; a tracking server insists on it.
        uri = card.model_uri
        model_id = uri.removeprefix("models:/") if uri.startswith("models:/m-") else None
        version = self.client.create_model_version(
            self.name, uri, run_id=card.run_id, model_id=model_id
        )
        return str(version.version)

    def describe(self, version: str, card: ModelCard, tags: dict[str, str]) -> None:
        """A version's description and tags: what it is, its test accuracy, and whether it took
        the alias and why; the registered model's description names the version serving."""
        self.client.update_model_version(
            self.name, version, description=version_description(card, tags, self.alias)
        )
        for key, value in {**version_tags(card), **tags}.items():
            self.client.set_model_version_tag(self.name, version, key, value)
        if champion := self.champion():
            summary = f"{MODEL_DESCRIPTION} Served: version {champion.version} (@{self.alias})"
            reason = champion.tags.get("promotion_reason")
            self.client.update_registered_model(
                self.name, f"{summary}: {reason}." if reason else f"{summary}."
            )

    def retire(self, version: str, successor: str) -> None:
        """Say on a version that lost the alias which one took it."""
        current = self.client.get_model_version(self.name, version).description or ""
        note = f"Held @{self.alias} until version {successor} took it. "
        self.client.update_model_version(self.name, version, description=note + current)

    def import_reference(self, experiment: str, folder: DetectorFolder) -> str:
        """Log a shipped detector folder as a run of its own (marked imported); its version."""
        from fakeimage.models.keras_detector import load_keras_model

        card = folder.card()
        tags = {**provenance_tags(), **card_tags(card), "imported": "true"}
        tags["imported_from"] = str(folder.path)
        shipped = f"The shipped reference ({folder.path}), imported as the first champion."
        tags[NOTE_TAG] = f"{shipped}\n\n{run_summary(card)}"
        experiment_id = mlflow.set_experiment(experiment).experiment_id
        with mlflow.start_run(
            experiment_id=experiment_id, run_name="reference (imported)", tags=tags
        ) as run:
            mlflow.log_params(params_to_dict(card.params))
            log_metrics(summary_metrics(card) | evaluation_metrics(card))
            images = np.zeros((2, 32, 32, 3), np.uint8)
            uri = log_keras_model(load_keras_model(folder.model_file), images, np.zeros(2))
            lineage = Lineage(
                imported=True,
                imported_from=f"{folder.path} (trained in MLflow run {card.run_id})",
            )
            imported = card.replace(run_id=run.info.run_id, model_uri=uri, lineage=lineage)
            for path in folder.files():
                if path.name != CARD_FILE:
                    mlflow.log_artifact(str(path), DETECTOR_ARTIFACTS)
            mlflow.log_text(imported.to_json(), f"{DETECTOR_ARTIFACTS}/{CARD_FILE}")
        return self.register(imported)


def attach_graph(registered: DetectorFolder, exported: DetectorFolder) -> None:
    """Give a registered run's detector folder the ONNX graph that promote exported from it and
    checked, with its card's export record, so fetching that version gives a folder that
    scores without TensorFlow (as models/champion does)."""
    card, record = registered.card(), exported.card().onnx
    if registered.has_onnx() or card.run_id is None or record is None:
        return
    client = MlflowClient()
    client.log_artifact(card.run_id, str(exported.onnx_file), DETECTOR_ARTIFACTS)
    carded = card.replace(onnx=record).to_json()
    client.log_text(card.run_id, carded, f"{DETECTOR_ARTIFACTS}/{CARD_FILE}")


def download_run_folder(run_id: str, scratch: Path) -> DetectorFolder:
    """The detector folder of a run, downloaded under scratch."""
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=DETECTOR_ARTIFACTS, dst_path=str(scratch / run_id)
        )
    except MlflowException as exc:
        raise UserError(f"cannot download the model of run {run_id}: {exc.message}") from None
    if not is_detector_folder(Path(path)) or not (Path(path) / MODEL_FILE).is_file():
        raise UserError(
            f"run {run_id} has no complete {DETECTOR_ARTIFACTS}/ folder: it was made by an older "
            "version of this project; start a new store (move mlflow.db away) or re-run it"
        )
    return DetectorFolder(Path(path))


def fetch_detector(uri: str, scratch: Path) -> DetectorFolder:
    """A registered version (`models:/NAME@ALIAS`, `models:/NAME/VERSION`) or a run's detector
    (`runs:/RUN_ID`) as a local folder under scratch, its card naming that version."""
    configure_tracking()
    client = MlflowClient()
    try:
        if uri.startswith("runs:/"):
            return download_run_folder(uri.removeprefix("runs:/").split("/")[0], scratch)
        if not uri.startswith("models:/"):
            raise UserError(f"{uri}: give models:/NAME@ALIAS, models:/NAME/VERSION or runs:/ID")
        name, _, alias = uri.removeprefix("models:/").partition("@")
        if alias:
            version = client.get_model_version_by_alias(name, alias)
        else:
            name, _, number = name.partition("/")
            version = client.get_model_version(name, number)
    except MlflowException as exc:
        raise UserError(f"cannot load {uri} from MLflow: {exc.message}") from None
    folder = download_run_folder(version.run_id, scratch)
    write_card(folder.path, folder.card().replace(name=name, version=str(version.version)))
    return folder
