"""The MLflow dashboard for real: `mlflow server` on a store the project's own functions wrote,
opened in headless Chromium at the link `fakeimage dashboard` prints."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import mlflow
import pytest

from fakeimage import QUIET_ENVIRONMENT
from fakeimage.cli import main
from fakeimage.registry import store
from fakeimage.registry.names import dashboard_url, dashboard_view
from tests.browser import chromium
from tests.service_process import free_port, stop_process_tree, wait_until_up

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

EXPERIMENT = "fake-image-detector"
RUN = "seed_cnn w16 · embedded, 2 fake sources · 1 epochs, lr 0.001"


def test_the_dashboard_link_opens_the_experiment_on_its_runs_and_headline_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", database)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("")
    store.configure_tracking(EXPERIMENT)
    metrics = {"test_accuracy": 0.9731, "test_roc_auc": 0.9952, "accuracy": 0.99}
    metrics |= {"robust_worst_accuracy": 0.61, "test_uncertain_share": 0.04}
    metrics["source_FAKE/dcgan_accuracy"] = 0.87
    with store.training_run(RUN, {}, {"model.arch": "seed_cnn"}, None) as run_id:
        store.log_metrics(metrics)
    experiment_id = mlflow.get_run(run_id).info.experiment_id
    store.share_view(experiment_id, dashboard_view(["FAKE", "FAKE/dcgan"]))
    while mlflow.active_run():
        mlflow.end_run()

    port = free_port()
    server = f"http://127.0.0.1:{port}"
    assert main(["dashboard", "--server", server]) == 0
    link = capsys.readouterr().out.strip().rsplit(" at ", 1)[1]
    assert link == dashboard_url(server, experiment_id)

    log = tmp_path / "mlflow.log"
    env = {**os.environ, **QUIET_ENVIRONMENT, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--backend-store-uri", database, "--workers", "1"]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_until_up(f"{server}/health", process, log, 120, "mlflow server")
        # the server tells the UI that telemetry is off (the home page's notice is MLflow's
        # own banner, shown until dismissed, whatever the setting)
        with urllib.request.urlopen(f"{server}/ajax-api/3.0/mlflow/ui-telemetry") as answer:
            assert json.load(answer)["disable_ui_telemetry"] is True
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(60_000)
            page.goto(link)
            table = page.get_by_role("grid")
            for column in ("test_accuracy", "test_roc_auc", "source_FAKE/dcgan_accuracy"):
                table.get_by_text(column, exact=True).first.wait_for()
            assert "/runs" in page.url and "workflowType=machine_learning" in page.url
            assert page.get_by_role("link", name=RUN).count() == 1
            assert page.get_by_text("0.9731", exact=True).count() == 1
            assert page.get_by_text("Usage", exact=True).count() == 0  # not GenAI's overview
            page.screenshot(path=str(tmp_path / "dashboard.png"))
            # Without the switch in its link, a fresh browser opens the GenAI overview: the
            # experiment's kind tag alone does not decide it (why `fakeimage dashboard` exists).
            fresh = browser.new_page()
            fresh.goto(f"{server}/#/experiments/{experiment_id}")
            fresh.wait_for_url("**/overview/**")
    finally:
        stop_process_tree(process, grace_s=10)
