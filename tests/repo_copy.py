"""A throw-away copy of this repository for integration tests that run real `dvc`.

The copy holds every file git would see (committed or not, minus ignored ones) as one fresh
commit, so uncommitted work is tested too, on a machine where git may have no identity.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from fakeimage import QUIET_ENVIRONMENT

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = (REPO_ROOT / ".." / "shared" / "data" / "cifake-sample.zip").resolve()
BIN = Path(sys.executable).parent
IDENTITY = {
    "GIT_AUTHOR_NAME": "fakeimage tests",
    "GIT_AUTHOR_EMAIL": "tests@localhost",
    "GIT_COMMITTER_NAME": "fakeimage tests",
    "GIT_COMMITTER_EMAIL": "tests@localhost",
}


PIPELINE_REPORTS = "reports/"
"""What `dvc repro` writes outside ignored folders: a copy starts without a local run's."""

NEEDS_REAL_PIPELINE = [
    pytest.mark.slow,
    pytest.mark.skipif(not SAMPLE.is_file(), reason=f"the CIFAKE sample {SAMPLE} is absent"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
    pytest.mark.skipif(not (BIN / "dvc").is_file(), reason="dvc is not installed in the venv"),
]
"""Marks for tests that run real `dvc` on the shared CIFAKE sample (skipped, with the reason,
where any of it is missing)."""


def isolated_env(repo: Path, **extra: str) -> dict[str, str]:
    """The environment for commands in a repository copy: the copy's own code, no MLflow store,
    experiment, cluster, model or database setting inherited from outside, a git identity."""
    inherited = ("MLFLOW_", "DVC_EXP", "TF_CONFIG", "FAKEIMAGE_", "PG")
    env = {key: value for key, value in os.environ.items() if not key.startswith(inherited)}
    env.update(
        IDENTITY,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONPATH=str(repo / "src"),  # run the copy's code, not the editable install's
        **QUIET_ENVIRONMENT,
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    """Run a command; fail the test with its output unless it exits 0. Returns the output."""
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(args)} failed ({result.returncode}):\n{output}"
    return output


def edit_params_file(repo: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite repo's params.yaml after edit(params)."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def copy_repository(
    target: Path,
    env: dict[str, str],
    edit_params: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Copy the repository into target and commit it, after edit_params(params) if given."""
    files = ["ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listing = subprocess.run(
        ["git", "-C", str(REPO_ROOT), *files],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for relative in filter(None, listing.split("\0")):
        if relative.startswith(PIPELINE_REPORTS):  # a local run's results, not the project
            continue
        source = REPO_ROOT / relative
        if not source.is_file():  # deleted in the working tree, or a submodule
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    if edit_params is not None:
        edit_params_file(target, edit_params)
    run(["git", "init", "-q"], target, env, timeout=60)
    run(["git", "add", "-A"], target, env, timeout=60)
    run(["git", "commit", "-q", "-m", "test copy"], target, env, timeout=60)


TRACKING_STORE = ("mlflow.db", "mlruns", "mlartifacts")
"""The local MLflow store a pipeline run leaves in the repository (absolute paths inside)."""


@dataclass(frozen=True)
class PipelineRun:
    """One `dvc repro` of the whole pipeline on the embedded data, shared by the tests that
    need its results, so the suite runs the pipeline once instead of once per test.

    `repo` is tests/test_pipeline_full.py's, which goes on from it (its MLflow store included);
    every other test starts from :meth:`copy_to`, a copy of the results as `dvc repro` left
    them, without the MLflow store, whose records name `repo`'s paths.
    """

    repo: Path
    env: dict[str, str]
    output: str
    repeat_output: str
    snapshot: Path

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "repo": str(self.repo), "snapshot": str(self.snapshot)})

    @classmethod
    def from_json(cls, text: str) -> PipelineRun:
        fields = json.loads(text)
        return cls(**{**fields, "repo": Path(fields["repo"]), "snapshot": Path(fields["snapshot"])})

    def copy_to(
        self, target: Path, edit_params: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        """A fresh copy of the results in target (git history, DVC cache, outputs)."""
        shutil.copytree(self.snapshot, target, symlinks=True)
        if edit_params is not None:
            edit_params_file(target, edit_params)


EMBEDDED_EPOCHS = 2
"""Training epochs of the shared run: enough for a model, short enough for a test."""


def run_embedded_pipeline(root: Path, bentoml_home: Path) -> PipelineRun:
    """`dvc repro` in a fresh copy under root with a short training, then once more (which must
    find nothing to do), then the snapshot that :meth:`PipelineRun.copy_to` copies."""
    if shutil.which("git") is None or not (BIN / "dvc").is_file():
        pytest.skip("the shared pipeline run needs git and the venv's dvc")
    repo = root / "repo"
    env = isolated_env(repo, BENTOML_HOME=str(bentoml_home))

    def short_training(params: dict[str, Any]) -> None:
        params["train"]["epochs"] = EMBEDDED_EPOCHS

    copy_repository(repo, env, short_training)
    dvc = str(BIN / "dvc")
    output = run([dvc, "repro"], repo, env, timeout=600)
    repeat_output = run([dvc, "repro"], repo, env, timeout=120)
    snapshot = root / "snapshot"
    shutil.copytree(
        repo,
        snapshot,
        symlinks=True,
        ignore=lambda folder, names: [
            name
            for name in names
            if (Path(folder) == repo and name in TRACKING_STORE)
            or (Path(folder) == repo / ".dvc" and name == "tmp")  # DVC's locks and state
        ],
    )
    return PipelineRun(repo, env, output, repeat_output, snapshot)
