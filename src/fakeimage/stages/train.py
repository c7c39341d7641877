"""train: fit `model.arch` on the prepared arrays, tracked as one MLflow run."""

from __future__ import annotations

import json

import keras
import mlflow

from fakeimage.atomic import write_json
from fakeimage.config import Params, params_to_dict
from fakeimage.data.hashes import TRAINING_IMAGES_FILE, training_record
from fakeimage.data.preprocess import fingerprint, load_split
from fakeimage.data.sources import describe_source
from fakeimage.evaluation.metrics import classification_metrics
from fakeimage.evaluation.plots import draw_history
from fakeimage.models.card import (
    CARD_FILE,
    Architecture,
    DataRecord,
    Lineage,
    ModelCard,
    SplitCounts,
    Training,
    TrainingImages,
)
from fakeimage.models.inference import MODEL_FILE, predict_proba, save_detector
from fakeimage.models.zoo import count_macs, for_serving
from fakeimage.paths import (
    DATA_REPORT,
    REPORTS_DIR,
    TRAIN_CHECKPOINT_DIR,
    TRAINED_DIR,
    split_path,
)
from fakeimage.tracking import configure_tracking, model_requirements, provenance_tags
from fakeimage.training.checkpoint import Checkpoint, resumable_progress, run_fingerprint
from fakeimage.training.cluster import cluster_role
from fakeimage.training.finetune import check_compatible, combined_record, load_parent
from fakeimage.training.train import train_model


class _LogEpochs(keras.callbacks.Callback):
    """Per-epoch train/val loss and accuracy, and the learning rate, to the active MLflow run."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {key: float(value) for key, value in (logs or {}).items()}
        metrics["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        mlflow.log_metrics(metrics, step=epoch + 1)


def run(params: Params) -> None:
    role = cluster_role(params.train.strategy)
    splits = {name: load_split(split_path(name)) for name in ("train", "val", "test")}
    data_fingerprint = fingerprint(splits)
    train, val = splits["train"], splits["val"]
    parent = None
    if params.train.init_from:
        parent = load_parent(params.train.init_from)
        check_compatible(parent, params.model)
    checkpoint = Checkpoint(
        TRAIN_CHECKPOINT_DIR,
        run_fingerprint(params_to_dict(params), data_fingerprint, role.size),
    )
    if not role.is_chief:  # trains its share; the chief logs the run and writes the outputs
        result = train_model(params.model, params.train, train, val, parent=parent)
        print(f"train: {role} finished {result.epochs_run} epochs; the chief records the run")
        return
    configure_tracking(params.mlflow.experiment)
    tags = {
        **provenance_tags(),
        "data_fingerprint": data_fingerprint,
        "data_source": params.data.source,
        "arch": params.model.arch,
        "cluster_size": str(role.size),
    }
    if parent is not None:
        tags["parent_model"] = f"{parent.record.name}@{parent.record.version}"
        tags["parent_location"] = parent.record.location
        if parent.record.run_id:
            tags["parent_run_id"] = parent.record.run_id
    progress = resumable_progress(checkpoint)
    resumed = progress.run_id is not None  # the same MLflow run goes on where it stopped
    if resumed:
        active = mlflow.start_run(run_id=progress.run_id)
    else:
        active = mlflow.start_run(run_name=tags.get("dvc_experiment"), tags=tags)
    with active:
        if not resumed:
            mlflow.log_params(params_to_dict(params))
        progress.run_id = active.info.run_id
        result = train_model(
            params.model,
            params.train,
            train,
            val,
            callbacks=[_LogEpochs()],
            parent=parent,
            checkpoint=checkpoint if role.size == 1 else None,
            progress=progress,
        )
        model = for_serving(result.model)
        val_probabilities = predict_proba(model, val.x)
        val_metrics = classification_metrics(val.y, val_probabilities, threshold=0.5)
        summary = {
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "train_seconds": round(result.seconds, 1),
            "train_images_per_second": round(result.images_per_second, 1),
            "parameters": int(model.count_params()),
            "macs": count_macs(model),
            "best_val_loss": val_metrics["log_loss"],
            "best_val_accuracy": val_metrics["accuracy"],
            "best_val_roc_auc": val_metrics["roc_auc"],
        }
        mlflow.log_metrics({k: float(v) for k, v in summary.items()})
        mlflow.set_tag("precision_policy", result.precision_policy)
        history_png = draw_history(result.history, REPORTS_DIR / "train_history.png")
        mlflow.log_artifact(str(history_png), "figures")
        model_info = mlflow.keras.log_model(
            model,
            name="model",
            pip_requirements=model_requirements(),
            signature=mlflow.models.infer_signature(
                val.x[:2].astype("float32"), val_probabilities[:2].reshape(-1, 1)
            ),
        )
        mlflow.set_tag("model_uri", model_info.model_uri)
        record = combined_record(parent, training_record(train.x))
        card = ModelCard(
            name=params.promote.model_name,
            version="unregistered",
            run_id=active.info.run_id,
            model_uri=model_info.model_uri,
            lineage=Lineage(parent=parent.record if parent else None),
            architecture=Architecture(
                arch=params.model.arch, parameters=summary["parameters"], macs=summary["macs"]
            ),
            params=params.model_dump(),
            data=DataRecord(
                source=params.data.source,
                description=describe_source(params.data),
                fingerprint=data_fingerprint,
                splits={
                    name: SplitCounts(**counts)
                    for name, counts in json.loads(DATA_REPORT.read_text())["splits"].items()
                },
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
        save_detector(TRAINED_DIR, model, card, record)
        for name in (MODEL_FILE, TRAINING_IMAGES_FILE, CARD_FILE):
            mlflow.log_artifact(str(TRAINED_DIR / name), "detector")

    checkpoint.clear()
    write_json(REPORTS_DIR / "train.json", summary)
    history_rows = [
        {"epoch": epoch + 1, **{k: v[epoch] for k, v in result.history.items()}}
        for epoch in range(result.epochs_run)
    ]
    write_json(REPORTS_DIR / "train_history.json", history_rows)
    print(
        f"train: {params.model.arch}, best epoch {result.best_epoch}/{result.epochs_run}, "
        f"val accuracy {val_metrics['accuracy']:.4f}, {result.seconds:.0f} s "
        f"in {result.precision_policy} on {role.size} worker(s), MLflow run {active.info.run_id}"
    )
