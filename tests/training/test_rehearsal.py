"""Rehearsal: which sources are new, what is replayed, and a fine-tune that learns a new
source without forgetting the old ones (and forgets without rehearsal)."""

from __future__ import annotations

import numpy as np
import pytest

from fakeimage.config import ModelParams, parse_params
from fakeimage.data.dataset import Dataset
from fakeimage.data.hashes import training_record
from fakeimage.detector.card import ParentModel
from fakeimage.errors import UserError
from fakeimage.models.keras_detector import predict_proba
from fakeimage.training.finetune import Parent
from fakeimage.training.rehearsal import known_sources, rehearse, replay_sizes
from fakeimage.training.train import train_model


def _images(kind: str, n: int, seed: int) -> Dataset:
    """REAL: dark noise. FAKE: bright noise. FAKE/checker: dark noise with a fine checkerboard,
    which a detector that learnt only brightness calls REAL."""
    rng = np.random.default_rng(seed)
    base = 170 if kind == "FAKE" else 70
    x = base + rng.normal(0, 25, (n, 32, 32, 3))
    if kind == "FAKE/checker":
        x += 45 * np.where(np.add.outer(np.arange(32), np.arange(32)) % 2, 1, -1)[..., None]
    label = 0 if kind == "REAL" else 1
    source = kind.partition("/")[2]
    return Dataset(
        np.clip(x, 0, 255).astype(np.uint8), np.full(n, label, np.uint8), np.full(n, source)
    )


def _joined(*parts: Dataset) -> Dataset:
    return Dataset(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        np.concatenate([p.sources for p in parts]),
    )


OLD = _joined(_images("REAL", 300, 1), _images("FAKE", 300, 2))
NEW = _images("FAKE/checker", 100, 3)
RECORD = training_record(OLD.x)


def _parent(record: np.ndarray = RECORD, sources: frozenset[str] = frozenset(), model=None):
    return Parent(
        model,
        ParentModel(location="parent", name="p", version="1"),
        record,
        ModelParams(dropout=0.0),
        sources,
    )


def test_sources_are_the_parents_by_its_record_or_by_name() -> None:
    train = _joined(OLD, NEW)
    assert known_sources(train, _parent()) == {"REAL", "FAKE"}
    # Fresh images of a known source count as known: the source is, its images need not be.
    fresh = _joined(_images("REAL", 100, 9), OLD, NEW)
    assert known_sources(fresh, _parent()) == {"REAL", "FAKE"}
    # A card that names its sources says so even for images its record lacks.
    unrecorded = _parent(RECORD[:0], frozenset({"REAL", "FAKE"}))
    assert known_sources(_joined(_images("REAL", 50, 10), NEW), unrecorded) == {"REAL"}


def test_every_new_image_and_a_balanced_seeded_replay_of_the_rest() -> None:
    train = _joined(OLD, NEW)
    rehearsal = rehearse(train, _parent(), 0.75, seed=0)
    assert rehearsal.new == {"FAKE/checker": 100}
    # 300 replayed, filling REAL first so both classes hold 200
    assert rehearsal.replayed == {"FAKE": 100, "REAL": 200}
    assert np.bincount(rehearsal.dataset.y).tolist() == [200, 200]
    assert rehearse(train, _parent(), 0.75, seed=0).dataset.x.tobytes() == (
        rehearsal.dataset.x.tobytes()
    )
    assert rehearse(train, _parent(), 0.75, seed=1).dataset.x.tobytes() != (
        rehearsal.dataset.x.tobytes()
    )
    alone = rehearse(train, _parent(), 0.0, seed=0)
    assert alone.replayed == {} and len(alone.dataset.y) == 100
    assert "100 new images (FAKE/checker 100) and 300 replayed" in rehearsal.describe()


def test_replay_sizes_balance_where_they_can_and_never_exceed_what_there_is() -> None:
    assert replay_sizes(np.array([0, 100]), np.array([1000, 1000]), 300).tolist() == [200, 100]
    assert replay_sizes(np.array([0, 100]), np.array([50, 1000]), 300).tolist() == [50, 250]
    assert replay_sizes(np.array([50, 50]), np.array([1000, 1000]), 100).tolist() == [50, 50]
    assert replay_sizes(np.array([0, 100]), np.array([10, 20]), 300).tolist() == [10, 20]


def test_nothing_new_or_no_record_is_one_clear_line() -> None:
    with pytest.raises(UserError, match="trained on every source of the training split"):
        rehearse(OLD, _parent(), 0.5, seed=0)
    with pytest.raises(UserError, match="no record of its training images"):
        rehearse(_joined(OLD, NEW), _parent(RECORD[:0]), 0.5, seed=0)
    with pytest.raises(UserError, match=r"train\.replay needs train\.init_from"):
        parse_params({"train": {"replay": 0.5}})


def _accuracy(model, data: Dataset) -> float:
    return float(((predict_proba(model, data.x) >= 0.5) == data.y).mean())


@pytest.mark.slow
def test_a_fine_tune_learns_a_new_source_and_forgets_nothing_only_with_rehearsal() -> None:
    params = parse_params(
        {"train": {"epochs": 3, "batch_size": 32, "patience": 10, "init_from": "parent"}}
    )
    model_params = ModelParams(dropout=0.0)
    val = _joined(_images("REAL", 60, 4), _images("FAKE", 60, 5), _images("FAKE/checker", 60, 6))
    parent_model = train_model(model_params, params.train, OLD, val, verbose=0).model
    parent = _parent(model=parent_model)
    unseen = {
        kind: _images(kind, 200, 20 + i) for i, kind in enumerate(("REAL", "FAKE", "FAKE/checker"))
    }
    assert _accuracy(parent_model, unseen["FAKE/checker"]) < 0.2  # it calls them REAL

    def fine_tuned(share: float) -> dict[str, float]:
        train = rehearse(_joined(OLD, NEW), parent, share, seed=0).dataset
        model = train_model(model_params, params.train, train, val, parent=parent, verbose=0)
        return {kind: _accuracy(model.model, data) for kind, data in unseen.items()}

    rehearsed = fine_tuned(0.75)
    assert rehearsed["FAKE/checker"] >= 0.9
    assert rehearsed["REAL"] >= 0.95 and rehearsed["FAKE"] >= 0.95
    forgetful = fine_tuned(0.0)  # the new FAKE images alone: photographs become FAKE
    assert forgetful["FAKE/checker"] >= 0.9 and forgetful["REAL"] < 0.5
