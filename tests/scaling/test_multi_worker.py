"""Two-worker training: `train.strategy: multi_worker_mirrored`, two processes on loopback ports.

Each "machine" is a copy of the repository with the embedded data prepared (from the session's
shared run, conftest.embedded_pipeline), running the same `fakeimage stage train` with its own
TF_CONFIG. Both train; only the chief (worker 0) logs to MLflow and writes models/trained and
the stage's reports.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fakeimage.detector.folder import DetectorFolder
from repo_copy import BIN, PipelineRun, isolated_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _two_workers_tiny(params: dict[str, Any]) -> None:
    params["train"].update(strategy="multi_worker_mirrored", epochs=1, batch_size=64)
    params["model"]["arch"] = "seed_cnn"


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def test_multi_worker_training_records_one_run_from_the_chief(
    tmp_path: Path, embedded_pipeline: PipelineRun
) -> None:
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    machines = [tmp_path / "chief", tmp_path / "worker"]
    processes = []
    for index, repo in enumerate(machines):
        env = isolated_env(repo)
        embedded_pipeline.copy_to(repo, _two_workers_tiny)
        # The shared run's training outputs go: here, only the chief may write them.
        shutil.rmtree(repo / "models" / "trained")
        (repo / "reports" / "train.json").unlink()
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}
        )
        log = (repo / "train.log").open("wb")
        processes.append(
            (
                subprocess.Popen(
                    [str(BIN / "fakeimage"), "stage", "train"],
                    cwd=repo,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                ),
                repo / "train.log",
            )
        )
    try:
        codes = [process.wait(timeout=420) for process, _ in processes]
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.kill()
    logs = [path.read_text(errors="replace") for _, path in processes]
    assert codes == [0, 0], logs

    chief, worker = machines
    assert "on 2 worker(s), MLflow run" in logs[0]
    assert "train: worker 1 of 2 finished 1 epochs; the chief records the run" in logs[1]
    # Only the chief wrote the stage's outputs and the MLflow store.
    card = DetectorFolder(chief / "models" / "trained").card()
    assert card.training.workers == 2 and card.training.epochs_run == 1
    assert (chief / "reports" / "train.json").is_file() and (chief / "mlflow.db").is_file()
    assert not (worker / "models" / "trained").exists()
    assert not (worker / "reports" / "train.json").exists()
    assert not (worker / "mlflow.db").exists()

    from mlflow import MlflowClient

    uri = f"sqlite:///{chief / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.get_experiment_by_name("fake-image-detector")
    (only,) = client.search_runs([experiment.experiment_id])
    assert only.info.run_id == card.run_id and only.info.status == "FINISHED"
    assert only.data.tags["cluster_size"] == "2"
    assert only.data.params["train.strategy"] == "multi_worker_mirrored"
