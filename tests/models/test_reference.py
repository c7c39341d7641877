"""The shipped reference detector: small, self-describing, and it classifies real CIFAKE images.

Its held-out figures come from the split carved when it was trained (in its card); here it is
scored again through the CLI on the 2,000-image sample in ../shared/data,
which is drawn from the same official train split, so most of it was seen in training: the
check is that the shipped file works end to end on real JPEGs, not a measure of accuracy.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from fakeimage.data.hashes import load_training_record
from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import (
    MARKDOWN_FILE,
    MODEL_FILE,
    TRAINING_IMAGES_FILE,
    DetectorFolder,
)
from fakeimage.models.keras_detector import load_detector
from fakeimage.paths import REFERENCE_DIR
from repo_copy import BIN, REPO_ROOT, SAMPLE
from tests.cards import assert_reproduce_sets_every_param

REFERENCE = REPO_ROOT / REFERENCE_DIR
MAX_BYTES = 5_000_000  # the cap: at most 5 MB in the repository


def _card() -> ModelCard:
    return DetectorFolder(REFERENCE).card()


PARENT_TEST_ACCURACY = 0.9791  # cifake-2026-12-02-s2d-wd-crop4 on the same held-out split
PARENT_WORST_ACCURACY = 0.6123  # its worst corruption there: Gaussian blur r=0.8


def test_the_reference_is_small_and_describes_how_it_was_made() -> None:
    size = sum(path.stat().st_size for path in REFERENCE.iterdir())
    assert size <= MAX_BYTES, f"models/reference is {size:,} bytes"
    card = _card()
    assert card.name == "fake-image-detector-reference"
    assert card.training.seconds <= 60 * 60  # the 60-minute CPU budget
    assert "dvc exp run" in card.reproduce
    changed = assert_reproduce_sets_every_param(card)
    assert {"data.source.path", "model.arch", "train.epochs"} <= changed
    assert card.evaluation is not None
    test = card.evaluation.test
    assert test.n > 9000 and 0 < test.threshold < 1
    markdown = (REFERENCE / MARKDOWN_FILE).read_text()
    assert f"{test.accuracy:.4f}" in markdown
    assert card.reproduce.splitlines()[1] in markdown


def test_the_reference_replaced_its_parent_by_the_rule() -> None:
    """At most 0.2 points below its parent on clean held-out images, far better degraded."""
    card = _card()
    assert card.lineage.parent is not None
    assert card.lineage.parent.version == "cifake-2026-12-02-s2d-wd-crop4"
    assert card.lineage.parent.version in card.reproduce
    assert card.evaluation.test.accuracy >= PARENT_TEST_ACCURACY - 0.002
    worst = min(scores["accuracy"] for scores in card.evaluation.robustness.values())
    assert worst >= PARENT_WORST_ACCURACY + 0.10
    assert len(card.evaluation.robustness) == 15


def test_the_reference_is_calibrated_and_knows_when_it_cannot_judge() -> None:
    card = _card()
    calibration, rule, selective = card.calibration, card.uncertainty, card.evaluation.selective
    assert calibration is not None and calibration.ece_after <= 0.01
    assert calibration.ece_after < calibration.ece_before
    assert card.evaluation.test.ece <= 0.01
    assert rule is not None and rule.val_share <= 0.0301
    assert rule.band[0] < card.threshold < rule.band[1]
    assert selective is not None and 1 - selective.coverage <= 0.035
    assert selective.certain_accuracy > card.evaluation.test.accuracy
    detector = load_detector(REFERENCE)
    assert detector.stats is not None and detector.stats.means.shape[0] == 2


def test_the_reference_carries_the_record_of_its_training_images() -> None:
    card = _card()
    record = load_training_record(REFERENCE / TRAINING_IMAGES_FILE)
    assert len(record) == card.training_images.count == card.data.splits["train"].total
    assert (record[1:] > record[:-1]).all()  # sorted and distinct


def test_the_reference_loads_with_its_threshold_name_and_size() -> None:
    detector = load_detector(REFERENCE)
    card = _card()
    assert (REFERENCE / MODEL_FILE).is_file()
    assert detector.threshold == pytest.approx(card.evaluation.threshold)
    assert (detector.name, detector.version) == (card.name, card.version)
    assert detector.model.count_params() == card.architecture.parameters


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"the CIFAKE sample {SAMPLE} is absent")
@pytest.mark.timeout(300)
def test_fakeimage_evaluate_scores_real_cifake_with_the_reference(tmp_path) -> None:
    output = tmp_path / "reference.json"
    command = [str(BIN / "fakeimage"), "evaluate", "--model", str(REFERENCE)]
    command += ["--data", str(SAMPLE), "--output", str(output)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(output.read_text())
    assert report["n"] == 2000 and report["bad_files"] == 0
    assert report["threshold"] == pytest.approx(_card().threshold)
    assert report["accuracy"] >= 0.95 and report["roc_auc"] >= 0.99
    assert json.loads(done.stdout.strip().splitlines()[-1])["accuracy"] == report["accuracy"]
