"""The champion rule: the same unseen images for both, a lead beyond sampling noise, real data
over synthetic, enough images to judge."""

from __future__ import annotations

import numpy as np
import pytest

from fakeimage.data.dataset import Dataset
from fakeimage.data.hashes import training_record
from fakeimage.registry.promotion import (
    Challenge,
    Comparison,
    Contender,
    Scored,
    challenge,
    compare,
    decide,
)

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, size=(400, 32, 32, 3), dtype=np.uint8)
LABELS = np.tile(np.array([0, 1], np.uint8), 200)
SOURCES = np.full(len(LABELS), "")
"""No sub-folders: the sources are REAL and FAKE."""
NOTHING = training_record(IMAGES[:0])


def _scorer(accuracy: float, seed: int = 1):
    """Scores right on an `accuracy` share of IMAGES (chosen by the seed), wrong elsewhere."""
    right = np.zeros(len(IMAGES), bool)
    right[: round(accuracy * len(IMAGES))] = True
    np.random.default_rng(seed).shuffle(right)
    return _scorer_of(right)


def _scorer_of(right: np.ndarray):
    """Scores IMAGES right where `right` is true, wrong elsewhere (by pixels, not position)."""
    truth = {images.tobytes(): (LABELS[i], right[i]) for i, images in enumerate(IMAGES)}

    def score(images: np.ndarray) -> np.ndarray:
        answers = []
        for pixels in images:
            label, correct = truth[pixels.tobytes()]
            answers.append(0.9 if bool(label) == correct else 0.1)
        return np.array(answers)

    return score


def _contender(accuracy: float, *, trained_on=NOTHING, real: bool = True, seed: int = 1):
    return Contender(_scorer(accuracy, seed), 0.5, trained_on, real)


def _run(
    champion: Contender, challenger: Contender, minimum: int = 100, sources=SOURCES
) -> Challenge:
    val = Dataset(IMAGES, LABELS, sources)
    return challenge(
        champion,
        challenger,
        val,
        metric="val_accuracy",
        min_unseen_images=minimum,
        source_tolerance=0.003,
    )


def _challenge(champion: Contender, challenger: Contender, minimum: int = 100):
    found = _run(champion, challenger, minimum)
    return found.decision, found.comparison, found.counts


def test_a_clearly_better_challenger_wins() -> None:
    decision, comparison, counts = _challenge(_contender(0.80), _contender(0.95, seed=2))
    assert decision.promote and "above the sampling noise" in decision.reason
    assert comparison is not None and comparison.images == counts["unseen_images"] == 400
    assert comparison.champion == pytest.approx(0.80) and comparison.challenger == pytest.approx(
        0.95
    )
    assert "400 unseen images" in decision.reason


def test_a_worse_challenger_loses() -> None:
    decision, comparison, _ = _challenge(_contender(0.95), _contender(0.80, seed=2))
    assert not decision.promote and "not better" in decision.reason
    assert comparison is not None and comparison.lower_bound < 0


def test_a_worse_challenger_also_names_the_sources_it_loses_on() -> None:
    old = (np.arange(400) < 200) & (LABELS == 1)
    champion_right = old | (np.arange(400) % 10 != 0)
    challenger_right = ~old & (np.arange(400) % 10 != 0)
    found = _run(
        Contender(_scorer_of(champion_right), 0.5, NOTHING, True),
        Contender(_scorer_of(challenger_right), 0.5, NOTHING, True),
        sources=np.where(old, "old", ""),
    )
    assert not found.decision.promote
    assert found.decision.reason.endswith(
        "the challenger is not better, and it loses beyond the tolerance on "
        "FAKE/old 100.00% vs 0.00%"
    )


def test_a_lead_within_the_sampling_noise_keeps_the_champion() -> None:
    decision, comparison, _ = _challenge(_contender(0.90), _contender(0.91, seed=2))
    assert comparison is not None and comparison.challenger > comparison.champion
    assert not decision.promote and "within the sampling noise" in decision.reason


def test_a_synthetic_data_model_never_displaces_a_real_data_one() -> None:
    champion = _contender(0.60)
    decision, _, _ = _challenge(champion, _contender(0.99, real=False, seed=2))
    assert not decision.promote and "synthetic" in decision.reason
    # The other way round is an ordinary challenge.
    assert _challenge(_contender(0.60, real=False), _contender(0.99, seed=2))[0].promote


def test_a_challenger_better_overall_but_worse_on_one_source_keeps_the_champion() -> None:
    # 100 FAKE images of an old generator the champion gets all right and the challenger 90
    # of; on the other 300 the challenger is far better, so it leads overall beyond the noise.
    old = (np.arange(400) < 200) & (LABELS == 1)
    sources = np.where(old, "old", "")
    rng = np.random.default_rng(7)
    champion_right = old | (rng.random(400) < 0.70)
    challenger_right = np.where(old, np.arange(400) % 20 != 1, rng.random(400) < 0.97)
    found = _run(
        Contender(_scorer_of(champion_right), 0.5, NOTHING, True),
        Contender(_scorer_of(challenger_right), 0.5, NOTHING, True),
        sources=sources,
    )
    assert found.comparison is not None and found.comparison.lower_bound > 0
    assert not found.decision.promote
    reason = found.decision.reason
    assert "FAKE/old 100.00% (champion) vs 90.00%" in reason and "-10.00 points" in reason
    assert "REAL" not in reason.split("loses")[1]  # only the source that lost is named
    blocked = [gate.source for gate in found.gates if gate.blocks]
    assert blocked == ["FAKE/old"]
    assert [gate.source for gate in found.gates] == ["FAKE", "FAKE/old", "REAL"]
    # The same challenger without that loss takes the alias.
    fixed = Contender(_scorer_of(challenger_right | old), 0.5, NOTHING, True)
    found = _run(Contender(_scorer_of(champion_right), 0.5, NOTHING, True), fixed, sources=sources)
    assert found.decision.promote and not any(gate.blocks for gate in found.gates)


def test_images_a_model_trained_on_are_excluded_from_the_comparison() -> None:
    # The champion trained on the first 150 images and scores them perfectly; the challenger
    # trained on the last 50. Only the 200 in between are shared and unseen.
    champion = Contender(_scorer(0.5), 0.5, training_record(IMAGES[:150]), True)
    challenger = Contender(_scorer(0.5, seed=2), 0.5, training_record(IMAGES[350:]), True)
    seen: list[int] = []
    original = champion.score

    def recording(images: np.ndarray) -> np.ndarray:
        seen.append(len(images))
        return original(images)

    champion = Contender(recording, 0.5, champion.training_images, True)
    _, comparison, counts = _challenge(champion, challenger)
    assert counts == {
        "validation_images": 400,
        "seen_by_champion": 150,
        "seen_by_challenger": 50,
        "unseen_images": 200,
    }
    assert seen == [200] and comparison is not None and comparison.images == 200


def test_too_few_unseen_images_keep_the_champion() -> None:
    champion = Contender(_scorer(0.5), 0.5, training_record(IMAGES[:350]), True)
    decision, comparison, counts = _challenge(champion, _contender(0.99, seed=2), minimum=100)
    assert counts["unseen_images"] == 50 and comparison is None
    assert not decision.promote and "only 50" in decision.reason and "too few" in decision.reason


@pytest.mark.parametrize("metric", ["val_accuracy", "val_roc_auc", "val_loss"])
def test_every_metric_prefers_the_better_model(metric: str) -> None:
    labels = LABELS.astype(np.int64)
    noise = np.random.default_rng(3).normal(0, 1, len(labels))
    good = Scored(1 / (1 + np.exp(-(4 * (labels - 0.5) * 2 + noise))), 0.5)
    poor = Scored(1 / (1 + np.exp(-((labels - 0.5) + noise))), 0.5)
    win = compare(metric, labels, poor, good)
    lose = compare(metric, labels, good, poor)
    assert win.lower_bound > 0 > lose.lower_bound
    assert win.challenger_ahead and not lose.challenger_ahead


def test_the_bootstrap_bound_is_deterministic() -> None:
    labels = LABELS.astype(np.int64)
    a = Scored(np.linspace(0, 1, len(labels)), 0.5)
    b = Scored(np.linspace(1, 0, len(labels)) * 0.5 + labels * 0.5, 0.5)
    assert compare("val_roc_auc", labels, a, b) == compare("val_roc_auc", labels, a, b)


def test_one_class_among_the_unseen_images_cannot_be_judged() -> None:
    comparison: Comparison | None = None
    decision = decide(
        comparison,
        unseen_images=500,
        min_unseen_images=100,
        challenger_real=True,
        champion_real=True,
    )
    assert not decision.promote and "one class" in decision.reason


def test_the_resampled_auc_is_sklearns_roc_auc() -> None:
    from sklearn.metrics import roc_auc_score

    from fakeimage.registry.promotion import _resampled_auc

    labels = LABELS.astype(np.int64)
    scores = np.round(np.random.default_rng(4).random(len(labels)), 1)  # with ties
    samples = np.random.default_rng(5).integers(0, len(labels), size=(3, len(labels)))
    expected = [roc_auc_score(labels[rows], scores[rows]) for rows in samples]
    assert _resampled_auc(labels, scores, samples) == pytest.approx(expected)
