"""The robust detector shipped beside the reference: a ResNet trained from scratch on CIFAKE
plus the generator zoo with the reference's degradations (docs/reference-model.md).

Its card must say how it was made, and its own tables must hold what the docs claim for it:
at least 92% under every corruption of the sweep, and every zoo generator at least as well
detected as by the many-generator detector it would succeed.
"""

from __future__ import annotations

import pytest

from fakeimage.data.hashes import load_training_record
from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import (
    MARKDOWN_FILE,
    MODEL_FILE,
    TRAINING_IMAGES_FILE,
    DetectorFolder,
)
from fakeimage.detector.markdown import render_model_card
from repo_copy import REPO_ROOT
from tests.cards import assert_reproduce_sets_every_param

FOLDER = REPO_ROOT / "models" / "robust"
ZOO = ("FAKE/dcgan", "FAKE/ddpm", "FAKE/upsample_gan", "FAKE/vae")

pytestmark = pytest.mark.timeout(60)


def _card(name: str = "robust") -> ModelCard:
    return DetectorFolder(REPO_ROOT / "models" / name).card()


def test_its_card_says_how_it_was_made() -> None:
    card = _card()
    assert card.name == "fake-image-detector-robust"
    assert card.architecture.arch == "resnet" and card.lineage.parent is None  # from scratch
    changed = assert_reproduce_sets_every_param(card)
    assert {"zoo.generators", "model.arch", "train.epochs", "train.augment.blur.p"} <= changed
    record = load_training_record(FOLDER / TRAINING_IMAGES_FILE)
    assert len(record) == card.training_images.count
    assert (FOLDER / MARKDOWN_FILE).read_text() == render_model_card(card)
    assert set(card.data.trained_sources) == {"REAL", "FAKE", *ZOO}
    assert "/work" not in (FOLDER / MARKDOWN_FILE).read_text()


def test_its_weights_stay_out_of_git() -> None:
    """25 MB of weights, over the repository's limit per file: git ignores them."""
    ignored = (FOLDER / ".gitignore").read_text().splitlines()
    assert f"/{MODEL_FILE}" in ignored and "MODEL_CARD.md" in ignored[0]


def test_every_corruption_of_the_sweep_keeps_it_above_92_percent() -> None:
    evaluation = _card().evaluation
    assert evaluation is not None and evaluation.robustness
    assert len(evaluation.robustness) == 15
    worst = min(scores["accuracy"] for scores in evaluation.robustness.values())
    assert worst >= 0.92


def test_every_zoo_generator_is_detected_at_least_as_well_as_by_many_generators() -> None:
    robust, before = _card().evaluation.sources, _card("many-generators").evaluation.sources
    assert robust is not None and before is not None
    for name in ZOO:
        assert robust[name].n == before[name].n == 1000, name  # the same test images
        assert robust[name].accuracy >= before[name].accuracy, name
        assert robust[name].confidently_wrong <= 0.10, name
