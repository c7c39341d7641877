"""The train stage's work: fit `model.arch` on the prepared data as one MLflow run, and card it.

Training logs its epochs to the run as they end and resumes the same run after an
interruption (`training.checkpoint`). What comes out is a `TrainedDetector`: the network in
float32, its card (architecture, params, data, training, lineage) and the record of its
training images, which the stage writes to models/trained.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fakeimage.config import Params, params_to_dict
from fakeimage.data.dataset import Dataset, Prepared
from fakeimage.data.hashes import training_record
from fakeimage.data.sources import describe_source
from fakeimage.detector.card import (
    Architecture,
    DataRecord,
    Lineage,
    ModelCard,
    Replay,
    SplitCounts,
    Training,
    TrainingImages,
)
from fakeimage.detector.folder import TRAINING_IMAGES_FILE
from fakeimage.evaluation.metrics import classification_metrics
from fakeimage.models.keras_detector import predict_proba
from fakeimage.models.zoo import count_macs, for_serving
from fakeimage.provenance import provenance_tags
from fakeimage.registry import store
from fakeimage.registry.names import NOTE_TAG, parent_tags, replay_tags, run_name, run_plan
from fakeimage.training.checkpoint import Checkpoint, resumable_progress, run_fingerprint
from fakeimage.training.cluster import ClusterRole
from fakeimage.training.finetune import Parent, check_compatible, combined_record, load_parent
from fakeimage.training.rehearsal import rehearse
from fakeimage.training.train import TrainResult, train_model


@dataclass(frozen=True)
class TrainedDetector:
    """A trained network with its card, ready to be written as a detector folder."""

    model: keras.Model
    card: ModelCard
    record: np.ndarray
    history: dict[str, list[float]]
    summary: dict[str, Any]
    """The training figures of reports/train.json and the run's summary metrics."""
    val_accuracy: float
    """At threshold 0.5, uncalibrated: what the stage's line reports."""


class _LogEpochs(keras.callbacks.Callback):
    """Per-epoch train/val loss and accuracy, and the learning rate, to the active run."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {key: float(value) for key, value in (logs or {}).items()}
        metrics["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        store.log_metrics(metrics, step=epoch + 1)


def _parent(params: Params) -> Parent | None:
    if not params.train.init_from:
        return None
    parent = load_parent(params.train.init_from)
    check_compatible(parent, params.model)
    return parent


def _training_set(
    params: Params, train: Dataset, parent: Parent | None
) -> tuple[Dataset, Replay | None]:
    """The images to fit: the training split, or with `train.replay` its rehearsal set."""
    if parent is None or params.train.replay is None:
        return train, None
    rehearsal = rehearse(train, parent, params.train.replay, params.train.seed)
    replay = Replay(share=params.train.replay, new=rehearsal.new, replayed=rehearsal.replayed)
    print(f"train: rehearsal: {rehearsal.describe()}")
    return rehearsal.dataset, replay


def train_share(params: Params, prepared: Prepared) -> TrainResult:
    """A non-chief worker's part of a multi-worker run: it trains, the chief records."""
    parent = _parent(params)
    train, _ = _training_set(params, prepared.train, parent)
    return train_model(params.model, params.train, train, prepared.val, parent=parent)


def train_detector(
    params: Params, prepared: Prepared, checkpoint_dir: Path, role: ClusterRole
) -> TrainedDetector:
    """Train (or resume) the detector params describe, tracked as one MLflow run.

    `role` is the chief of the cluster (of one, unless `train.strategy` spans machines).
    """
    parent = _parent(params)
    train, replay = _training_set(params, prepared.train, parent)
    checkpoint = Checkpoint(
        checkpoint_dir, run_fingerprint(params_to_dict(params), prepared.fingerprint, role.size)
    )
    store.configure_tracking(params.mlflow.experiment)
    tags = {
        **provenance_tags(),
        "data_fingerprint": prepared.fingerprint,
        "data_source": params.data.source.kind,
        "arch": params.model.arch,
        "cluster_size": str(role.size),
    }
    if parent is not None:
        tags |= parent_tags(parent.record)
    if replay is not None:
        tags |= replay_tags(replay)
    fakes = [name for name in set(train.source_names().tolist()) if name.startswith("FAKE")]
    tags[NOTE_TAG] = run_plan(params, describe_source(params.data.source), fakes)
    name = run_name(params, fakes, tags.get("dvc_experiment"))
    progress = resumable_progress(checkpoint)
    with store.training_run(name, tags, params_to_dict(params), progress.run_id) as run_id:
        progress.run_id = run_id
        result = train_model(
            params.model,
            params.train,
            train,
            prepared.val,
            callbacks=[_LogEpochs()],
            parent=parent,
            checkpoint=checkpoint if role.size == 1 else None,
            progress=progress,
        )
        model = for_serving(result.model)
        val_probabilities = predict_proba(model, prepared.val.x)
        model_uri = store.log_keras_model(model, prepared.val.x, val_probabilities)
    record = combined_record(parent, training_record(train.x))
    summary = {
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "train_seconds": round(result.seconds, 1),
        "train_images_per_second": round(result.images_per_second, 1),
        "parameters": int(model.count_params()),
        "macs": count_macs(model),
    }
    card = ModelCard(
        name=params.promote.model_name,
        version="unregistered",
        run_id=run_id,
        model_uri=model_uri,
        lineage=Lineage(parent=parent.record if parent else None, replay=replay),
        architecture=Architecture(
            arch=params.model.arch, parameters=summary["parameters"], macs=summary["macs"]
        ),
        params=params,
        data=DataRecord(
            source=params.data.source.kind,
            description=describe_source(params.data.source),
            fingerprint=prepared.fingerprint,
            splits={
                name: SplitCounts(**counts) for name, counts in prepared.report["splits"].items()
            },
            trained_sources=dict(Counter(train.source_names().tolist())),
        ),
        training=Training(
            epochs_run=result.epochs_run,
            best_epoch=result.best_epoch,
            seconds=summary["train_seconds"],
            images_per_second=summary["train_images_per_second"],
            hardware=tags["hardware"],
            precision_policy=result.precision_policy,
            workers=role.size,
        ),
        training_images=TrainingImages(file=TRAINING_IMAGES_FILE, count=len(record)),
    )
    val_accuracy = classification_metrics(prepared.val.y, val_probabilities, 0.5)["accuracy"]
    return TrainedDetector(model, card, record, result.history, summary, val_accuracy)
