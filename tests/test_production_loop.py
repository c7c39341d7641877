"""The production loop end to end, with real parts: the served champion meets a generator it
does not know, the drift report flags it, people report the misses with consent, and the
pipeline retrains on them behind the champion rule and the regression set.

The unknown "generator" is the embedded data's photographs with a fine checkerboard laid over
them (what GAN up-sampling leaves), as in tests/test_learn_pipeline.py.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image

from repo_copy import BIN, NEEDS_REAL_PIPELINE, PipelineRun, run
from tests.learning import checkered, quick_learning_copy
from tests.service_process import run_service

pytestmark = [*NEEDS_REAL_PIPELINE, pytest.mark.timeout(900)]

WINDOW = 200
REPORTED = 150


def _answer(url: str, paths: list[Path]) -> list[dict]:
    """/predict_batch in chunks, as a client streaming images would."""
    answers = []
    for start in range(0, len(paths), 50):
        files = [("images", (p.name, p.read_bytes())) for p in paths[start : start + 50]]
        response = requests.post(f"{url}/predict_batch", files=files, timeout=120)
        assert response.status_code == 200, response.text
        answers += response.json()
    return answers


def _drift(repo: Path, env: dict[str, str], log: Path) -> tuple[int, dict]:
    command = [str(BIN / "fakeimage"), "drift", "--log", str(log), "--window", str(WINDOW)]
    command += ["--model", "models/champion", "--reference", "data/prepared/val.npz"]
    done = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode in (0, 3), done.stdout + done.stderr
    report = json.loads((repo / "reports" / "drift.json").read_text())
    assert done.stdout.splitlines()[0] == f"drift: {report['verdict']}"
    return done.returncode, report


def test_a_missed_generator_is_noticed_reported_and_learnt_behind_the_gates(
    embedded_pipeline: PipelineRun, tmp_path: Path
) -> None:
    repo, env = quick_learning_copy(embedded_pipeline, tmp_path)
    log = tmp_path / "answers"

    # in-distribution traffic: the held-out test photographs and fakes, shuffled
    known = tmp_path / "known"
    known.mkdir()
    with zipfile.ZipFile(repo / "data" / "embedded" / "cifake-embedded.zip") as archive:
        names = [n for n in archive.namelist() if n.startswith("test/") and n.endswith(".jpg")]
        for index in np.random.default_rng(0).permutation(len(names))[:WINDOW]:
            image = Image.open(io.BytesIO(archive.read(names[index])))
            image.save(known / f"{index:04d}.jpg", quality=95)
    unknown = checkered(repo, tmp_path / "checker", WINDOW, skip=600)

    served = {"FAKEIMAGE_LOG_DIR": str(log), "FAKEIMAGE_FEEDBACK_DIR": str(repo / "data/feedback")}
    with run_service(tmp_path / "bentoml", env=env | served, cwd=repo) as server:
        _answer(server.url, sorted(known.iterdir()))
        quiet, report = _drift(repo, env, log)
        assert quiet == 0, report["verdict"]

        answers = _answer(server.url, sorted(unknown.iterdir()))
        flagged, report = _drift(repo, env, log)
        assert flagged == 3 and report["drifted"], report["verdict"]
        missed = [a for a in answers if a["label"] == "REAL"]
        assert len(missed) >= REPORTED, f"only {len(missed)} of {WINDOW} answered REAL"

        # people report the misses: most with the image (consent), some with the label only
        for number, answer in enumerate(missed[:REPORTED]):
            fields = {"request_id": (None, answer["request_id"]), "label": (None, "FAKE")}
            fields["source"] = (None, "checker")
            if number < REPORTED - 10:
                image = unknown / answer["file"]
                fields |= {"consent": (None, "true"), "image": (image.name, image.read_bytes())}
            response = requests.post(f"{server.url}/feedback", files=fields, timeout=60)
            assert response.status_code == 200, response.text
    kept = sorted((repo / "data" / "feedback" / "FAKE" / "checker").glob("*.png"))
    assert len(kept) == REPORTED - 10
    reports = (repo / "data" / "feedback" / "reports.jsonl").read_text().splitlines()
    assert len(reports) == REPORTED

    # retrain on what was reported, behind the per-source gates and the regression set
    learn = [str(BIN / "fakeimage"), "learn", "data/feedback/FAKE/checker"]
    output = run(learn, repo, env, timeout=600)
    promotion = json.loads((repo / "reports" / "promotion.json").read_text())
    regression = promotion["regression"]
    assert regression["images"] == REPORTED - 10
    assert regression["champion"] < 0.5  # the reports are its mistakes
    assert f"promote: on the {REPORTED - 10} reported images, champion " in output
    if promotion["promoted"]:
        assert regression["passes"]
    else:
        assert promotion["reason"] in output
    learnt = json.loads((repo / "reports" / "learn.json").read_text())
    rows = {row["source"]: row for row in learnt["sources"]}
    assert "FAKE/checker" in rows
