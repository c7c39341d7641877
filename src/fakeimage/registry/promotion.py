"""Choosing the champion: best validation metric among runs on the same data, then the registry.

Test metrics never decide anything here: they stay an unbiased estimate. A run takes the
`champion` alias only if it beats the current champion on the validation metric, unless the
current champion was trained on other data, whose numbers are not comparable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from fakeimage.errors import UserError


@dataclass(frozen=True)
class Candidate:
    run_id: str
    value: float
    data_fingerprint: str
    model_uri: str


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def metric_key(metric: str) -> str:
    """The MLflow metric the train stage logs for a promote.metric name (best-epoch value)."""
    return f"best_{metric}"


def is_better(value: float, other: float, metric: str) -> bool:
    """Strictly better: lower for losses, higher for everything else."""
    return value < other if metric.endswith("loss") else value > other


def decide(candidate: Candidate, champion: Candidate | None, metric: str) -> Decision:
    """Should the candidate take the alias from the current champion?"""
    if champion is None:
        return Decision(True, "there is no champion yet")
    if champion.run_id == candidate.run_id:
        return Decision(False, "the best run is already the champion")
    if champion.data_fingerprint != candidate.data_fingerprint:
        return Decision(
            True,
            "the current champion was trained on other data "
            f"({champion.data_fingerprint[:12]} vs {candidate.data_fingerprint[:12]}); "
            "its metrics are not comparable, so the best model on the current data takes over",
        )
    if is_better(candidate.value, champion.value, metric):
        return Decision(
            True, f"{metric} {candidate.value:.5f} beats the champion's {champion.value:.5f}"
        )
    return Decision(
        False,
        f"{metric} {candidate.value:.5f} does not beat the champion's {champion.value:.5f}",
    )


def best_candidate(
    client: MlflowClient, experiment_id: str, data_fingerprint: str, metric: str
) -> Candidate:
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
    return _candidate(runs[0], key)


def _candidate(run: Any, key: str) -> Candidate:
    return Candidate(
        run_id=run.info.run_id,
        value=float(run.data.metrics[key]),
        data_fingerprint=run.data.tags.get("data_fingerprint", ""),
        model_uri=run.data.tags["model_uri"],
    )


def current_champion(client: MlflowClient, name: str, alias: str, metric: str) -> Candidate | None:
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None
    run = client.get_run(version.run_id)
    key = metric_key(metric)
    if key not in run.data.metrics or "model_uri" not in run.data.tags:
        return None
    return _candidate(run, key)


def register(client: MlflowClient, name: str, candidate: Candidate) -> str:
    """The registry version of the candidate's model, registering it once."""
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description="CNN that tells AI-generated (FAKE) images from real ones (REAL)."
        )
    existing = client.search_model_versions(f"name = '{name}' and run_id = '{candidate.run_id}'")
    if existing:
        return str(max(int(v.version) for v in existing))
    version = client.create_model_version(name, candidate.model_uri, run_id=candidate.run_id)
    return str(version.version)


def download_detector_files(run_id: str, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """The run's `detector/model.keras` (downloaded into scratch) and its evaluation."""
    import mlflow

    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="detector", dst_path=str(scratch)
        )
    )
    return local / "model.keras", json.loads((local / "evaluation.json").read_text())
