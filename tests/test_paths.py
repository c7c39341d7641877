"""Where shared state lives, also from inside DVC's temporary experiment workspaces."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakeimage.paths import project_root, tracking_uri


def test_project_root_is_the_working_directory_normally(tmp_path: Path) -> None:
    assert project_root(tmp_path) == tmp_path.resolve()


def test_project_root_climbs_out_of_a_queued_experiment_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    workspace.mkdir(parents=True)
    assert project_root(workspace) == tmp_path.resolve()
    assert project_root(workspace / "sub") == tmp_path.resolve()


def test_tracking_uri_defaults_to_mlflow_db_at_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc123"
    workspace.mkdir(parents=True)
    monkeypatch.chdir(workspace)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri() == f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert tracking_uri() == "http://127.0.0.1:5000"
