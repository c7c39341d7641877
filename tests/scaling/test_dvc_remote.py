"""A DVC remote: push the pipeline's data and models, pull them into a fresh clone, and find
nothing to re-run there. A local folder stands in for S3, GCS or SSH (the same commands).

The pipeline's results are those of the session's shared run (conftest.embedded_pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repo_copy import BIN, PipelineRun, isolated_env, run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_remote_push_then_pull_into_a_fresh_clone_has_nothing_to_reproduce(
    tmp_path: Path, embedded_pipeline: PipelineRun
) -> None:
    repo, clone, remote = tmp_path / "repo", tmp_path / "clone", tmp_path / "remote"
    env = isolated_env(repo)
    dvc, fakeimage = str(BIN / "dvc"), str(BIN / "fakeimage")
    embedded_pipeline.copy_to(repo)
    assert "Data and pipelines are up to date." in run([dvc, "status"], repo, env)

    # What a team does once: name the remote (committed), push, commit the lock and metrics.
    run([dvc, "remote", "add", "-d", "storage", str(remote)], repo, env)
    pushed = run([dvc, "push"], repo, env, timeout=300)
    assert "pushed" in pushed
    run(["git", "add", "dvc.lock", ".dvc/config", "reports"], repo, env)
    run(["git", "commit", "-q", "-m", "pipeline results"], repo, env)

    # A collaborator or CI: clone, pull, and nothing needs computing again.
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path, env)
    clone_env = isolated_env(clone)
    pulled = run([dvc, "pull"], clone, clone_env, timeout=300)
    assert "fetched" in pulled or "added" in pulled
    for path in (
        "data/prepared/test.npz",
        "models/champion/model.keras",
        "models/trained/card.json",
    ):
        assert (clone / path).is_file(), path
    status = run([dvc, "repro"], clone, clone_env, timeout=300)
    assert "Data and pipelines are up to date." in status and "Running stage" not in status

    # The pulled data and model work as they are.
    run(
        [
            fakeimage,
            "evaluate",
            "--model",
            "models/champion",
            "--data",
            "data/prepared/test.npz",
            "--output",
            "scores.json",
        ],
        clone,
        clone_env,
        timeout=240,
    )
    scores = json.loads((clone / "scores.json").read_text())
    expected = json.loads((repo / "reports" / "promotion.json").read_text())
    assert scores["n"] == 800 and scores["accuracy"] >= 0.95
    assert expected["champion_version"] == "1"
    # Nothing secret went into the committed config: a remote's credentials belong in
    # .dvc/config.local, which git ignores.
    assert "url" in (clone / ".dvc" / "config").read_text()
    assert ".dvc/config.local" not in run(["git", "ls-files"], clone, env)
