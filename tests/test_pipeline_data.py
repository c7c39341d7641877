"""Integration: `dvc repro fetch preprocess` on real CIFAKE images, in a copy of the repository.

The copy holds every file git would see (committed or not, minus ignored ones), so uncommitted
work is tested too. The data is the 2,000-image sample in ../shared/data, read in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from fakeimage import QUIET_ENVIRONMENT
from repo_copy import BIN, IDENTITY, NEEDS_REAL_PIPELINE, SAMPLE, copy_repository, run

pytestmark = [*NEEDS_REAL_PIPELINE, pytest.mark.timeout(600)]


def _set_params(repo: Path, **data: object) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["data"].update(data)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def _stage_lines(output: str, stage: str) -> list[str]:
    """Lines our stage command printed (`fetch: ...`), as opposed to DVC's own."""
    return [line for line in output.splitlines() if line.startswith(f"{stage}:")]


def _report(repo: Path) -> dict:
    return json.loads((repo / "reports" / "data.json").read_text())


def test_fetch_and_preprocess_with_dvc(tmp_path: Path, write_cifake) -> None:
    repo = tmp_path / "repo"
    env = {
        **os.environ,
        **IDENTITY,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(repo / "src"),  # run the copy's code, not the editable install's
        **QUIET_ENVIRONMENT,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    copy_repository(repo, env)
    _set_params(repo, source={"kind": "archive", "path": str(SAMPLE)})
    repro = [str(BIN / "dvc"), "repro", "fetch", "preprocess"]

    # First run: both stages run.
    output = run(repro, repo, env)
    assert "Running stage 'fetch'" in output and "Running stage 'preprocess'" in output
    assert _stage_lines(output, "fetch") and _stage_lines(output, "preprocess")
    report = _report(repo)
    assert report["files"] == 2000
    assert report["images"] == 2000
    assert report["classes"] == {"REAL": 1000, "FAKE": 1000}
    assert report["bad_files"]["count"] == 0
    assert set(report["duplicates_removed"]) >= {"within_split", "across_splits", "total"}
    total = 0
    for name in ("train", "val", "test"):
        with np.load(repo / "data" / "prepared" / f"{name}.npz") as arrays:
            x, y = arrays["x"], arrays["y"]
        assert x.dtype == np.uint8 and x.ndim == 4 and x.shape[1:] == (32, 32, 3)
        assert y.dtype == np.uint8 and y.shape == (len(x),)
        assert len(x) == report["splits"][name]["total"] > 0
        total += len(x)
    assert total == 2000 - report["duplicates_removed"]["total"]
    assert len(list((repo / "data" / "raw" / "train" / "REAL").iterdir())) == 1000
    assert not list((repo / "data").glob(".raw*"))
    val_before = report["splits"]["val"]["total"]

    # Second run: nothing changed, nothing runs.
    output = run(repro, repo, env)
    assert "Stage 'fetch' didn't change, skipping" in output
    assert "Stage 'preprocess' didn't change, skipping" in output
    assert "Data and pipelines are up to date." in output
    assert "Running stage" not in output
    assert not _stage_lines(output, "fetch") and not _stage_lines(output, "preprocess")

    # A preprocess parameter changes: only preprocess runs again.
    params = yaml.safe_load((repo / "params.yaml").read_text())
    _set_params(repo, val_fraction=params["data"]["val_fraction"] * 2)
    output = run(repro, repo, env)
    assert "Stage 'fetch' didn't change, skipping" in output
    assert "Running stage 'fetch'" not in output and not _stage_lines(output, "fetch")
    assert "Running stage 'preprocess'" in output and _stage_lines(output, "preprocess")
    assert _report(repo)["splits"]["val"]["total"] > val_before

    # The user's own images in data/extra: only preprocess runs, and they become a source in
    # every split.
    write_cifake(repo / "data" / "extra", {"FAKE/mine": 60})
    output = run(repro, repo, env)
    assert "Running stage 'fetch'" not in output and "Running stage 'preprocess'" in output
    mine = _report(repo)["sources"]["FAKE/mine"]
    # (the training split's count is after balancing the classes, so it may be a bit lower)
    assert mine["test"] == 6 and mine["val"] == 11 and 0 < mine["train"] <= 43
