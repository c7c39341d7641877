"""Shared tracking, for real: `make mlflow-server` on PostgreSQL with proxied artifacts, and the
pipeline's train, evaluate and promote stages logging to it over HTTP (on the prepared data of
the session's shared run, conftest.embedded_pipeline).

The database password reaches the server through PGPASSWORD only: it is in no command line,
no params.yaml and no logged run. Nothing is written to a local mlflow.db.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from fakeimage.detector.folder import MODEL_FILE
from repo_copy import BIN, REPO_ROOT, PipelineRun, isolated_env, run
from tests.scaling.postgres import postgres_bindir, running_postgres
from tests.service_process import free_port, stop_process_tree

MODEL_NAME = "fake-image-detector"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        postgres_bindir() is None, reason="PostgreSQL is absent: apt-get install postgresql"
    ),
]


def _another_training(params: dict[str, Any]) -> None:
    """Unlike the shared run's: train, evaluate and promote run again, on its prepared data."""
    params["train"]["epochs"] = 1


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in 120 s:\n{log.read_text()[-3000:]}")


def test_postgres_tracking_server_runs_the_pipeline(
    tmp_path: Path, embedded_pipeline: PipelineRun
) -> None:
    artifacts = tmp_path / "artifacts"
    port = free_port()
    with running_postgres() as database:
        server_env = {
            **os.environ,
            "MLFLOW_BACKEND_STORE_URI": database.backend_uri,
            "PGPASSWORD": database.password,
        }
        log = tmp_path / "mlflow-server.log"
        command = ["make", "--no-print-directory", "-C", str(REPO_ROOT), "mlflow-server"]
        command += [f"MLFLOW_PORT={port}", f"MLFLOW_ARTIFACTS_DESTINATION={artifacts}"]
        with log.open("wb") as output:
            server = subprocess.Popen(
                command,
                env=server_env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(f"{url}/health", server, log)
            for member in [psutil.Process(server.pid), *psutil.Process(server.pid).children(True)]:
                try:
                    command_line = " ".join(member.cmdline())
                except psutil.NoSuchProcess:  # exited (or a zombie) since it was listed
                    continue
                assert database.password not in command_line

            repo = tmp_path / "repo"
            env = isolated_env(repo, MLFLOW_TRACKING_URI=url)
            embedded_pipeline.copy_to(repo, _another_training)
            output = run([str(BIN / "dvc"), "repro"], repo, env, timeout=480)
            assert "Running stage 'train'" in output and "promote: kept the champion" in output
            assert not (repo / "mlflow.db").exists() and not (repo / "mlruns").exists()

            champion_uri = f"models:/{MODEL_NAME}@champion"
            evaluate = [str(BIN / "fakeimage"), "evaluate", "--model", champion_uri]
            evaluated = run([*evaluate, "--data", "data/prepared/val.npz"], repo, env, timeout=240)
            assert '"accuracy": 0.98' in evaluated or '"accuracy": 0.99' in evaluated

            from mlflow import MlflowClient

            client = MlflowClient(tracking_uri=url, registry_uri=url)
            experiment = client.get_experiment_by_name("fake-image-detector")
            runs = client.search_runs([experiment.experiment_id])
            assert len(runs) == 2  # the imported reference and the pipeline's run
            trained = next(r for r in runs if r.data.tags.get("imported") != "true")
            assert trained.data.tags["evaluated"] == "true"
            assert "test_accuracy" in trained.data.metrics
            figures = {
                Path(f.path).name for f in client.list_artifacts(trained.info.run_id, "figures")
            }
            assert {"roc.png", "train_history.png"} <= figures
            for logged in runs:
                assert database.password not in repr(logged.data.params)
            champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
            assert str(champion.version) == "1"
            assert len(client.search_model_versions(f"name = '{MODEL_NAME}'")) == 2
            # Artifacts went through the server into its destination, not into the repo.
            stored = [p for p in artifacts.rglob("*") if p.name == MODEL_FILE]
            assert len(stored) >= 2
        finally:
            stop_process_tree(server)
