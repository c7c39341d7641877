"""Integration: the whole pipeline (`dvc repro`) on real CIFAKE images, in a copy of the repository.

fetch -> preprocess -> train -> evaluate -> promote, tracked in the copy's own MLflow store
(mlflow.db), then the champion is scored again from its folder and from the registry, and a
second experiment checks that the champion alias moves only for a strictly better run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from repo_copy import BIN, IDENTITY, NEEDS_REAL_PIPELINE, SAMPLE, copy_repository, run

EXPERIMENT = "fake-image-detector"
MODEL_NAME = "fake-image-detector"

pytestmark = [*NEEDS_REAL_PIPELINE, pytest.mark.timeout(900)]


def _small_and_real(params: dict[str, Any]) -> None:
    """Small, fast settings on the real sample."""
    params["data"].update(source="archive", path=str(SAMPLE))
    params["train"]["epochs"] = 2
    params["model"]["arch"] = "seed_cnn"


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _evaluate(repo: Path, env: dict[str, str], model: str, output: str) -> dict:
    fakeimage = str(BIN / "fakeimage")
    data = "data/prepared/test.npz"
    run([fakeimage, "evaluate", "--model", model, "--data", data, "--output", output], repo, env)
    return _json(repo / output)


@dataclass
class Pipeline:
    """What the module's one pipeline run left behind, captured before the second experiment."""

    repo: Path
    env: dict[str, str]
    uri: str
    first_output: str
    run_id: str
    metrics: dict
    data_report: dict
    promotion: dict
    champion_metadata: dict
    train_history: list
    metrics_show: str
    plots_show: str
    evaluated_locally: dict
    evaluated_from_registry: dict
    second_output: str
    second_promotion: dict
    second_champion_metadata: dict

    @property
    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """`dvc repro`, both evaluations of the champion, then `dvc exp run -S train.epochs=1`."""
    repo = tmp_path_factory.mktemp("full") / "repo"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MLFLOW_", "DVC_EXP", "TF_CONFIG"))  # the copy's own store
    }
    env.update(
        IDENTITY,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=str(repo / "src"),  # run the copy's code, not the editable install's
        DVC_NO_ANALYTICS="1",
        PYTHONDONTWRITEBYTECODE="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    copy_repository(repo, env, _small_and_real)
    dvc = str(BIN / "dvc")
    uri = f"sqlite:///{repo / 'mlflow.db'}"

    started = time.monotonic()
    first_output = run([dvc, "repro"], repo, env, timeout=420)
    print(f"dvc repro: {time.monotonic() - started:.0f} s")
    assert (repo / "mlflow.db").is_file()
    reports = repo / "reports"
    metrics_show = run([dvc, "metrics", "show", "--json"], repo, env, timeout=120)
    plots_show = run([dvc, "plots", "show", "--json"], repo, env, timeout=120)
    local = _evaluate(repo, env, "models/champion", "out.json")
    remote = _evaluate(
        repo, {**env, "MLFLOW_TRACKING_URI": uri}, f"models:/{MODEL_NAME}@champion", "reg.json"
    )
    state = {
        "metrics": _json(reports / "metrics.json"),
        "data_report": _json(reports / "data.json"),
        "promotion": _json(reports / "promotion.json"),
        "champion_metadata": _json(repo / "models" / "champion" / "metadata.json"),
        "train_history": json.loads((reports / "train_history.json").read_text()),
    }
    started = time.monotonic()
    second_output = run([dvc, "exp", "run", "-S", "train.epochs=1"], repo, env, timeout=420)
    print(f"dvc exp run: {time.monotonic() - started:.0f} s")
    return Pipeline(
        repo=repo,
        env=env,
        uri=uri,
        first_output=first_output,
        run_id=state["promotion"]["candidate_run"],
        metrics_show=metrics_show,
        plots_show=plots_show,
        evaluated_locally=local,
        evaluated_from_registry=remote,
        second_output=second_output,
        second_promotion=_json(reports / "promotion.json"),
        second_champion_metadata=_json(repo / "models" / "champion" / "metadata.json"),
        **state,
    )


def _first_run(pipeline: Pipeline) -> Any:
    client = pipeline.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert runs[0].info.run_id == pipeline.run_id
    return runs[0]


def test_every_stage_ran_and_wrote_its_outputs(pipeline: Pipeline) -> None:
    for stage in ("fetch", "preprocess", "train", "evaluate", "promote"):
        assert f"Running stage '{stage}'" in pipeline.first_output
    repo = pipeline.repo
    for name in ("data.json", "train.json", "metrics.json", "robustness.json", "promotion.json"):
        assert (repo / "reports" / name).is_file(), name
    for name in ("model.keras", "metadata.json", "MODEL_CARD.md"):
        assert (repo / "models" / "champion" / name).is_file(), name
    assert (repo / "mlflow.db").is_file()
    assert pipeline.metrics["test"]["n"] == pipeline.data_report["splits"]["test"]["total"]


def test_the_run_is_tracked_in_mlflow(pipeline: Pipeline) -> None:
    mlflow_run = _first_run(pipeline)
    assert mlflow_run.info.status == "FINISHED"
    params = mlflow_run.data.params
    assert params["model.arch"] == "seed_cnn"
    assert params["train.epochs"] == "2"
    assert params["data.source"] == "archive"
    tags = mlflow_run.data.tags
    assert tags["data_fingerprint"] == pipeline.data_report["fingerprint"]
    head = run(["git", "rev-parse", "HEAD"], pipeline.repo, pipeline.env).strip()
    assert tags["git_commit"] == head
    assert tags["evaluated"] == "true" and tags["model_uri"].startswith("models:/")
    assert tags["precision_policy"] == "float32" and "cores" in tags["hardware"]
    metrics = mlflow_run.data.metrics
    assert metrics["test_accuracy"] == pytest.approx(pipeline.metrics["test"]["accuracy"])
    assert metrics["test_roc_auc"] == pytest.approx(pipeline.metrics["test"]["roc_auc"])
    assert metrics["threshold"] == pytest.approx(pipeline.metrics["threshold"])
    assert metrics["parameters"] == 159_041 and metrics["epochs_run"] == 2
    client, run_id = pipeline.client, mlflow_run.info.run_id
    figures = {Path(f.path).name for f in client.list_artifacts(run_id, "figures")}
    assert {"roc.png", "confusion_matrix.png", "calibration.png", "train_history.png"} <= figures
    detector = {Path(f.path).name for f in client.list_artifacts(run_id, "detector")}
    assert {"model.keras", "evaluation.json"} <= detector


def test_per_epoch_history_is_logged(pipeline: Pipeline) -> None:
    mlflow_run = _first_run(pipeline)
    rows = pipeline.train_history
    assert [row["epoch"] for row in rows] == [1, 2]
    for key in ("loss", "val_loss", "accuracy", "learning_rate"):
        history = pipeline.client.get_metric_history(mlflow_run.info.run_id, key)
        assert sorted(m.step for m in history) == [1, 2], key
        if key != "learning_rate":
            by_step = {m.step: m.value for m in history}
            assert [by_step[1], by_step[2]] == pytest.approx([r[key] for r in rows]), key
    history = pipeline.client.get_metric_history(mlflow_run.info.run_id, "val_accuracy")
    by_step = {m.step: m.value for m in history if m.step > 0}
    assert [by_step[1], by_step[2]] == pytest.approx([r["val_accuracy"] for r in rows])


def test_evaluate_does_not_write_into_the_epoch_history(pipeline: Pipeline) -> None:
    mlflow_run = _first_run(pipeline)
    history = pipeline.client.get_metric_history(mlflow_run.info.run_id, "val_accuracy")
    assert sorted(m.step for m in history) == [1, 2]


def test_first_run_became_the_champion(pipeline: Pipeline) -> None:
    promotion = pipeline.promotion
    assert promotion["promoted"] is True and "no champion" in promotion["reason"]
    assert promotion["champion_run"] == pipeline.run_id
    metadata = pipeline.champion_metadata
    assert metadata["run_id"] == pipeline.run_id
    assert metadata["version"] == promotion["champion_version"] == "1"
    assert metadata["threshold"] == pipeline.metrics["threshold"]
    assert metadata["arch"] == "seed_cnn"
    assert metadata["precision_policy"] == "float32"
    card = (pipeline.repo / "models" / "champion" / "MODEL_CARD.md").read_text()
    assert "## Robustness" in card and "dvc repro" in card


def test_dvc_shows_the_metrics_and_plots(pipeline: Pipeline) -> None:
    shown = json.dumps(json.loads(pipeline.metrics_show))
    for name in ("reports/metrics.json", "reports/promotion.json", "reports/train.json"):
        assert name in shown
    assert str(pipeline.metrics["test"]["accuracy"]) in shown
    plots = json.loads(pipeline.plots_show)
    text = json.dumps(plots)
    for name in ("reports/plots/roc.json", "reports/train_history.json", "Loss", "ROC"):
        assert name in text, name


def test_the_cli_reproduces_the_stage_metrics(pipeline: Pipeline) -> None:
    test = pipeline.metrics["test"]
    local = pipeline.evaluated_locally
    assert local["n"] == test["n"]
    assert local["threshold"] == pipeline.metrics["threshold"]
    assert local["accuracy"] == test["accuracy"]
    assert local["roc_auc"] == pytest.approx(test["roc_auc"], abs=1e-9)
    assert local["confusion_matrix"] == test["confusion_matrix"]
    remote = pipeline.evaluated_from_registry
    assert remote["threshold"] == pytest.approx(pipeline.metrics["threshold"])
    assert remote["accuracy"] == test["accuracy"]
    assert remote["roc_auc"] == pytest.approx(test["roc_auc"], abs=1e-9)


def test_the_alias_moves_only_for_a_strictly_better_run(pipeline: Pipeline) -> None:
    output = pipeline.second_output
    assert "Running stage 'train'" in output and "Running stage 'promote'" in output
    assert "Running stage 'fetch'" not in output  # the data is unchanged
    client = pipeline.client
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert len(runs) == 2
    first, second = runs
    assert first.info.run_id == pipeline.run_id
    assert second.info.status == "FINISHED" and second.data.tags["evaluated"] == "true"
    assert second.data.params["train.epochs"] == "1"
    assert len(client.get_metric_history(second.info.run_id, "loss")) == 1
    assert second.data.tags["data_fingerprint"] == first.data.tags["data_fingerprint"]

    first_value = first.data.metrics["best_val_accuracy"]
    second_value = second.data.metrics["best_val_accuracy"]
    better = second_value > first_value
    promotion = pipeline.second_promotion
    assert promotion["promoted"] is better, (promotion, first_value, second_value)
    assert promotion["previous_champion_run"] == first.info.run_id
    expected = second.info.run_id if better else first.info.run_id
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert champion.run_id == expected
    assert promotion["champion_run"] == expected
    assert promotion["champion_version"] == str(champion.version)
    assert pipeline.second_champion_metadata["run_id"] == expected
    if not better:
        assert str(champion.version) == "1"
