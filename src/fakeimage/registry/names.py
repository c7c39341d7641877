"""What MLflow calls a detector's facts: run tags and metric names, from its card.

Kept apart from `registry.store` (the one module that talks to MLflow) because they are plain
functions of a card: the trainer tags its run with them, the store logs them.
"""

from __future__ import annotations

from fakeimage.detector.card import ModelCard, ParentModel, Replay

TUNED_VAL = "tuned_val"
"""Prefix of validation scores at the chosen threshold with calibrated probabilities (the
plain `val_*` metrics are Keras' per-epoch series)."""


def card_tags(card: ModelCard) -> dict[str, str]:
    """The run tags that say what a detector is: its data, network and how it was trained."""
    tags = {
        "data_fingerprint": card.data.fingerprint,
        "data_source": card.data.source,
        "arch": card.architecture.arch,
        "hardware": card.training.hardware,
        "precision_policy": card.training.precision_policy,
    }
    if parent := card.lineage.parent:
        tags |= parent_tags(parent)
    if replay := card.lineage.replay:
        tags |= replay_tags(replay)
    return tags


def parent_tags(parent: ParentModel) -> dict[str, str]:
    """A fine-tuned model's run tags naming the model it started from."""
    tags = {"parent_model": f"{parent.name}@{parent.version}", "parent_location": parent.location}
    if parent.run_id:
        tags["parent_run_id"] = parent.run_id
    return tags


def replay_tags(replay: Replay) -> dict[str, str]:
    """A rehearsed fine-tune's run tags: the replayed share and what the set held."""
    return {
        "replay_share": str(replay.share),
        "replay_new": ", ".join(f"{name}={count}" for name, count in replay.new.items()),
        "replay_replayed": str(sum(replay.replayed.values())),
    }


def evaluation_metrics(card: ModelCard) -> dict[str, float]:
    """The MLflow metrics of an evaluated card: every score of it, under one naming."""
    evaluation = card.evaluation
    if evaluation is None:
        return {}
    metrics: dict[str, float] = {"threshold": evaluation.threshold}
    for prefix, scores in (("test", evaluation.test), (TUNED_VAL, evaluation.val)):
        for key, value in scores.model_dump().items():
            if isinstance(value, float):
                metrics[f"{prefix}_{key}"] = value
    for corruption, scores in evaluation.robustness.items():
        metrics |= {f"robust_{corruption}_{key}": value for key, value in scores.items()}
    if evaluation.robustness:
        metrics["robust_worst_accuracy"] = min(
            s["accuracy"] for s in evaluation.robustness.values()
        )
    if calibration := evaluation.calibration:
        metrics["ece_before_calibration"] = calibration.ece_before
        metrics["ece_after_calibration"] = calibration.ece_after
    if selective := evaluation.selective:
        metrics["test_coverage"] = selective.coverage
        metrics["test_certain_accuracy"] = selective.certain_accuracy
    for source, row in (evaluation.sources or {}).items():
        for key, value in row.model_dump().items():
            if value is not None and key != "n":
                metrics[f"source_{source}_{key}"] = value
    return metrics


def summary_metrics(card: ModelCard) -> dict[str, float]:
    """The size and training cost of a detector, as run metrics."""
    return {
        "parameters": card.architecture.parameters,
        "macs": card.architecture.macs,
        "train_seconds": card.training.seconds,
        "epochs_run": card.training.epochs_run,
    }
