"""What MLflow calls a detector's facts: run tags and metric names, from its card.

Kept apart from `registry.store` (the one module that talks to MLflow) because they are plain
functions of a card: the trainer tags its run with them, the store logs them. Runs are named
by what they are, and described in MLflow's run description (the markdown shown at the top of
a run's page), which after evaluation leads with the headline figures.
"""

from __future__ import annotations

from collections.abc import Iterable

from fakeimage.config import Params
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
        metrics["test_uncertain_share"] = 1 - selective.coverage
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


NOTE_TAG = "mlflow.note.content"
"""The tag MLflow shows as a run's description."""

VIEW = "headline"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW}"
"""An experiment tag holding a runs-table view (MLflow's "share view"), opened by the URL."""
HEADLINE = ("test_accuracy", "test_roc_auc", "robust_worst_accuracy", "test_uncertain_share")
"""The metric columns the dashboard's runs table opens with (then recall per fake source)."""


def dashboard_view(fake_sources: Iterable[str] = ()) -> dict[str, object]:
    """The runs table the dashboard link opens: best test accuracy first, the headline metrics
    and each fake source's recall as columns, in that order."""
    metrics = [*HEADLINE, *(f"source_{s}_accuracy" for s in sorted(set(fake_sources)))]
    columns = [f"metrics.`{name}`" for name in metrics]
    return {
        "orderByKey": "metrics.`test_accuracy`",
        "orderByAsc": False,
        "selectedColumns": columns,
        "columnOrder": columns,
    }


def dashboard_url(server: str, experiment_id: str) -> str:
    """Where the experiment opens on its runs: MLflow 3's UI picks GenAI or model-training
    pages from its `workflowType` switch (URL parameter, else the browser's last choice, GenAI
    by default), not from the experiment's kind tag; the view adds the metric columns."""
    query = f"workflowType=machine_learning&viewStateShareKey={VIEW}"
    return f"{server.rstrip('/')}/#/experiments/{experiment_id}/runs?{query}"


def run_name(params: Params, fake_sources: Iterable[str], experiment: str | None) -> str:
    """What a run is, readable in the runs table: 'next-ref: resnet w48 d2 · archive, 5 fake
    sources · 36 epochs, lr 0.002' (the DVC experiment's name first, when there is one)."""
    model, train = params.model, params.train
    network = f"{model.arch} w{model.width}" + (
        f" d{model.depth}" if model.arch == "resnet" else ""
    )
    fakes = sorted(set(fake_sources))
    data = params.data.source.kind + (f", {len(fakes)} fake sources" if len(fakes) > 1 else "")
    start = ", fine-tune" if train.init_from else ""
    name = f"{network} · {data} · {train.epochs} epochs, lr {train.learning_rate:g}{start}"
    return f"{experiment}: {name}" if experiment else name


def run_plan(params: Params, data: str, fake_sources: Iterable[str]) -> str:
    """The run's description while it trains: network, data, recipe."""
    model, train = params.model, params.train
    fakes = ", ".join(sorted(set(fake_sources))) or "FAKE"
    start = f"fine-tuned from `{train.init_from}`" if train.init_from else "trained from scratch"
    return (
        f"**{model.arch}** (width {model.width}, depth {model.depth}, stem {model.stem}) "
        f"{start} on {data}; fake sources: {fakes}. Recipe: {train.epochs} epochs, batch "
        f"{train.batch_size}, {train.optimizer} at learning rate {train.learning_rate:g} "
        f"({train.schedule})."
    )


def run_summary(card: ModelCard) -> str:
    """The run's description once evaluated: the headline figures first, then the plan."""
    trained = card.data.trained_sources or {}
    plan = run_plan(card.params, card.data.description, [s for s in trained if "FAKE" in s])
    evaluation = card.evaluation
    if evaluation is None:
        return plan
    cells = {
        "test accuracy": f"{evaluation.test.accuracy:.4f}",
        "ROC-AUC": f"{evaluation.test.roc_auc:.4f}",
    }
    if evaluation.robustness:
        worst = min(evaluation.robustness, key=lambda c: evaluation.robustness[c]["accuracy"])
        cells["worst corruption"] = f"{worst} {evaluation.robustness[worst]['accuracy']:.4f}"
    if evaluation.selective:
        cells["uncertain share"] = f"{1 - evaluation.selective.coverage:.3f}"
    for source, row in sorted((evaluation.sources or {}).items()):
        if source.startswith("FAKE/"):
            cells[f"recall {source.removeprefix('FAKE/')}"] = f"{row.accuracy:.4f}"
    header = "| " + " | ".join(cells) + " |"
    rule = "|" + "---|" * len(cells)
    values = "| " + " | ".join(cells.values()) + " |"
    return f"{header}\n{rule}\n{values}\n\n{plan}"


def version_tags(card: ModelCard) -> dict[str, str]:
    """The tags every registry version carries, whatever its promotion said."""
    return {"data_source": card.data.source, "test_accuracy": _test_accuracy(card) or "n/a"}


def _test_accuracy(card: ModelCard) -> str | None:
    test = card.evaluation.test if card.evaluation else None
    return f"{test.accuracy:.4f}" if test else None


def version_description(card: ModelCard, tags: dict[str, str], alias: str) -> str:
    """A registry version in words, without paths a reader of the registry does not have: the
    promotion outcome first, then the network, the data and the held-out accuracy."""
    test = _test_accuracy(card)
    accuracy = f"held-out test accuracy {test}" if test else "not evaluated"
    trained = sorted(card.data.trained_sources or {})
    data = f"{card.data.splits['train'].total:,} {card.data.source} images" + (
        f" ({', '.join(trained)})" if trained else ""
    )
    outcome = tags.get("promotion", "")
    reason = tags.get("promotion_reason", "")
    if outcome in ("promoted", "imported"):
        verdict = f"Took @{alias}: {reason}."
    else:
        verdict = f"Did not take @{alias}: {reason}." if reason else ""
    what = f"{card.architecture.arch} trained on {data}; {accuracy}."
    return f"{verdict} {what}".strip()
