"""Choosing the champion: the decision rule, and candidate search and registration in MLflow."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import keras
import mlflow
import pytest
from mlflow import MlflowClient

from fakeimage.errors import UserError
from fakeimage.registry.promotion import (
    Candidate,
    best_candidate,
    current_champion,
    decide,
    is_better,
    metric_key,
    register,
)

DATA = "a" * 64
OTHER_DATA = "b" * 64


def _candidate(value: float, run_id: str = "new", data: str = DATA) -> Candidate:
    return Candidate(run_id=run_id, value=value, data_fingerprint=data, model_uri=f"runs:/{run_id}")


# --- the decision rule --------------------------------------------------------------------------


def test_metric_key_is_the_best_epoch_metric() -> None:
    assert metric_key("val_accuracy") == "best_val_accuracy"
    assert metric_key("val_loss") == "best_val_loss"


def test_is_better_is_strict_and_knows_losses_go_down() -> None:
    assert is_better(0.9, 0.8, "val_accuracy") and not is_better(0.8, 0.9, "val_accuracy")
    assert is_better(0.95, 0.9, "val_roc_auc")
    assert is_better(0.2, 0.3, "val_loss") and not is_better(0.3, 0.2, "val_loss")
    for metric in ("val_accuracy", "val_roc_auc", "val_loss"):
        assert not is_better(0.5, 0.5, metric)


def test_no_champion_means_promote() -> None:
    decision = decide(_candidate(0.1), None, "val_accuracy")
    assert decision.promote and "no champion" in decision.reason


@pytest.mark.parametrize(
    ("metric", "worse", "better"),
    [("val_accuracy", 0.80, 0.90), ("val_roc_auc", 0.80, 0.90), ("val_loss", 0.40, 0.30)],
)
def test_only_a_strictly_better_run_takes_the_alias(
    metric: str, worse: float, better: float
) -> None:
    champion = _candidate(0.85 if metric != "val_loss" else 0.35, run_id="old")
    assert not decide(_candidate(worse), champion, metric).promote
    tie = decide(_candidate(champion.value), champion, metric)
    assert not tie.promote and "does not beat" in tie.reason
    win = decide(_candidate(better), champion, metric)
    assert win.promote and metric in win.reason and "beats" in win.reason


def test_the_champion_itself_is_not_promoted_again() -> None:
    champion = _candidate(0.9, run_id="same")
    decision = decide(_candidate(0.9, run_id="same"), champion, "val_accuracy")
    assert not decision.promote and "already the champion" in decision.reason


def test_a_champion_on_other_data_is_replaced_even_by_a_worse_number() -> None:
    champion = _candidate(0.99, run_id="old", data=OTHER_DATA)
    decision = decide(_candidate(0.6), champion, "val_accuracy")
    assert decision.promote
    assert "other data" in decision.reason and OTHER_DATA[:12] in decision.reason


# --- against a real MLflow store ----------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MlflowClient]:
    """A fresh sqlite-backed MLflow store in tmp_path, used by both the client and `mlflow.*`."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)  # artifacts land in tmp_path/mlruns
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


def _experiment(client: MlflowClient, tmp_path: Path) -> str:
    return client.create_experiment("promotion", artifact_location=(tmp_path / "art").as_uri())


def _run(
    client: MlflowClient,
    experiment_id: str,
    *,
    val_accuracy: float | None,
    test_accuracy: float | None = None,
    data: str = DATA,
    evaluated: bool = True,
    finished: bool = True,
) -> str:
    run = client.create_run(experiment_id, tags={"data_fingerprint": data})
    run_id = run.info.run_id
    client.set_tag(run_id, "model_uri", f"runs:/{run_id}/model")
    if evaluated:
        client.set_tag(run_id, "evaluated", "true")
    if val_accuracy is not None:
        client.log_metric(run_id, "best_val_accuracy", val_accuracy)
        client.log_metric(run_id, "best_val_loss", 1 - val_accuracy)
    if test_accuracy is not None:
        client.log_metric(run_id, "test_accuracy", test_accuracy)
    if finished:
        client.set_terminated(run_id, "FINISHED")
    return run_id


def test_best_candidate_uses_validation_metrics_on_the_current_data_only(
    store: MlflowClient, tmp_path: Path
) -> None:
    experiment = _experiment(store, tmp_path)
    with pytest.raises(UserError, match="no evaluated run"):
        best_candidate(store, experiment, DATA, "val_accuracy")

    good = _run(store, experiment, val_accuracy=0.90, test_accuracy=0.70)
    # Better on test, worse on validation: test metrics must never decide.
    _run(store, experiment, val_accuracy=0.85, test_accuracy=0.99)
    # Better on validation but disqualified: other data, not evaluated, failed, no metric.
    _run(store, experiment, val_accuracy=0.99, data=OTHER_DATA)
    _run(store, experiment, val_accuracy=0.98, evaluated=False)
    _run(store, experiment, val_accuracy=0.97, finished=False)
    _run(store, experiment, val_accuracy=None)

    chosen = best_candidate(store, experiment, DATA, "val_accuracy")
    assert chosen == Candidate(good, 0.90, DATA, f"runs:/{good}/model")
    # For a loss, lower wins: the same run (its loss 0.10 is the lowest on this data).
    by_loss = best_candidate(store, experiment, DATA, "val_loss")
    assert by_loss.run_id == good and by_loss.value == pytest.approx(0.10)
    # On the other data, its run is the only candidate.
    assert best_candidate(store, experiment, OTHER_DATA, "val_accuracy").value == 0.99


def test_best_candidate_prefers_the_earlier_run_on_a_tie(
    store: MlflowClient, tmp_path: Path
) -> None:
    experiment = _experiment(store, tmp_path)
    first = _run(store, experiment, val_accuracy=0.9)
    _run(store, experiment, val_accuracy=0.9)
    assert best_candidate(store, experiment, DATA, "val_accuracy").run_id == first


def _log_tiny_model(experiment_id: str, val_accuracy: float) -> Candidate:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, activation="sigmoid")])
    with mlflow.start_run(experiment_id=experiment_id, tags={"data_fingerprint": DATA}) as run:
        info = mlflow.keras.log_model(model, name="model", pip_requirements=["keras"])
        mlflow.log_metric("best_val_accuracy", val_accuracy)
        mlflow.set_tags({"model_uri": info.model_uri, "evaluated": "true"})
    return Candidate(run.info.run_id, val_accuracy, DATA, info.model_uri)


def test_register_registers_a_run_once_and_the_alias_finds_it(
    store: MlflowClient, tmp_path: Path
) -> None:
    experiment = _experiment(store, tmp_path)
    candidate = _log_tiny_model(experiment, 0.8)
    assert best_candidate(store, experiment, DATA, "val_accuracy") == candidate
    assert current_champion(store, "detector", "champion", "val_accuracy") is None

    version = register(store, "detector", candidate)
    assert version == "1"
    assert register(store, "detector", candidate) == "1"  # the same version, not a new one
    assert len(store.search_model_versions("name = 'detector'")) == 1
    registered = store.get_model_version("detector", version)
    assert registered.run_id == candidate.run_id

    store.set_registered_model_alias("detector", "champion", version)
    assert current_champion(store, "detector", "champion", "val_accuracy") == candidate

    # A second, better run gets its own version; decide() would hand it the alias.
    challenger = _log_tiny_model(experiment, 0.9)
    assert register(store, "detector", challenger) == "2"
    champion = current_champion(store, "detector", "champion", "val_accuracy")
    assert decide(challenger, champion, "val_accuracy").promote
    assert best_candidate(store, experiment, DATA, "val_accuracy") == challenger
