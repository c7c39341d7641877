"""`fakeimage learn` end to end: a new "generator" taught to the champion through the pipeline.

The samples are photographs of the embedded data overlaid with a fine checkerboard (what GAN
up-sampling leaves), a source the champion never trained on. The command places them in
data/extra, runs `dvc exp run` with rehearsal, scores the model before and after on the test
split, and the champion rule decides with its per-source gates.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakeimage.detector.folder import DetectorFolder
from repo_copy import BIN, NEEDS_REAL_PIPELINE, PipelineRun, run
from tests.learning import checkered, quick_learning_copy

pytestmark = [*NEEDS_REAL_PIPELINE, pytest.mark.timeout(900)]

SAMPLES = 150


def test_learn_teaches_the_champion_a_new_source_with_rehearsal(
    embedded_pipeline: PipelineRun, tmp_path: Path
) -> None:
    repo, env = quick_learning_copy(embedded_pipeline, tmp_path)
    samples = checkered(repo, tmp_path / "checker", SAMPLES)
    unseen = checkered(repo, tmp_path / "unseen", 60, skip=SAMPLES)
    learn = [str(BIN / "fakeimage"), "learn", str(samples), "--unseen", str(unseen)]
    output = run(learn, repo, env, timeout=600)

    # It placed the samples as a source and ran the pipeline as an experiment.
    assert len(list((repo / "data/extra/FAKE/checker").iterdir())) == SAMPLES
    assert len(list((repo / "data/extra/test/FAKE/checker").iterdir())) == 60
    assert "dvc exp run -n learn-checker-20" in output and "-S train.replay=0.5" in output
    assert "-S train.init_from=" in output and "Running stage 'train'" in output
    assert "train: rehearsal: " in output

    # The child fine-tuned the champion on the new images and a replayed share of the old.
    card = DetectorFolder(repo / "models" / "trained").card()
    assert card.lineage.parent is not None and card.lineage.parent.location == "models/champion"
    replay = card.lineage.replay
    assert replay is not None and replay.share == 0.5
    (new,) = replay.new.items()
    assert new[0] == "FAKE/checker" and 0 < new[1] <= SAMPLES
    assert sum(replay.replayed.values()) == new[1]  # half the set
    assert set(replay.replayed) <= {"REAL", "FAKE"}

    # Before and after on the test split, every source, the unseen samples among them.
    report = json.loads((repo / "reports" / "learn.json").read_text())
    rows = {row["source"]: row for row in report["sources"]}
    assert set(rows) == {"FAKE", "FAKE/checker", "REAL", "all"}
    assert rows["FAKE/checker"]["images"] >= 60  # the unseen ones and a carved share
    assert "FAKE/checker" in output and "<- learnt" in output
    promotion = json.loads((repo / "reports" / "promotion.json").read_text())
    assert report["promoted"] == promotion["promoted"]
    assert {row["source"] for row in promotion["sources"]} == {"FAKE", "FAKE/checker", "REAL"}
    assert f"learn: promote {'promoted' if promotion['promoted'] else 'kept the champion'}" in (
        output
    )

    # The same name for other images is refused in one line; the same images are reused.
    other = checkered(repo, tmp_path / "other", 5, skip=400)
    refused = run_failing([*learn[:2], str(other), "--name", "checker"], repo, env)
    assert "already holds other images" in refused and "Traceback" not in refused


def run_failing(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    import subprocess

    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    return result.stderr
