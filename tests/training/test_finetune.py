"""Fine-tuning helpers: compatible parents, mixing weights back, the combined record."""

from __future__ import annotations

import numpy as np
import pytest

from fakeimage.config import ModelParams, parse_params
from fakeimage.detector.card import ParentModel
from fakeimage.errors import UserError
from fakeimage.models.zoo import seed_cnn
from fakeimage.training.finetune import Parent, check_compatible, combined_record, mix_back


def _parent(model_params: dict[str, object], record: np.ndarray | None = None) -> Parent:
    """A parent of all-ones seed_cnn weights whose card says it was built with model_params."""
    model = seed_cnn(ModelParams())
    model.set_weights([np.ones_like(w) for w in model.get_weights()])
    return Parent(
        model=model,
        record=ParentModel(location="models/reference", name="reference", version="1"),
        training_images=np.zeros(0, np.uint64) if record is None else record,
        model_params=ModelParams(**model_params),
    )


def test_mixing_back_averages_every_weight_by_the_parents_share() -> None:
    parent = _parent({"arch": "seed_cnn"})
    child = seed_cnn(ModelParams())
    child.set_weights([np.zeros_like(w) for w in child.get_weights()])
    mix_back(child, parent, 0.25)
    assert all(np.allclose(w, 0.25) for w in child.get_weights())
    mix_back(child, parent, 0.0)  # no share: untouched
    assert all(np.allclose(w, 0.25) for w in child.get_weights())


def test_a_parent_of_another_shape_is_refused_in_one_line() -> None:
    shape = {"arch": "fidelity_se_net", "width": 56, "depth": 1, "stem": "space_to_depth"}
    check_compatible(_parent(shape), ModelParams(**shape, dropout=0.3))  # dropout may differ
    with pytest.raises(UserError, match=r"model.arch=fidelity_se_net, model.width=56"):
        check_compatible(_parent(shape), ModelParams(arch="fidelity_se_net", width=32))


def test_the_childs_record_holds_the_parents_images_too() -> None:
    own = np.array([3, 5], np.uint64)
    parent = _parent({}, record=np.array([1, 5, 9], np.uint64))
    assert combined_record(parent, own).tolist() == [1, 3, 5, 9]
    assert combined_record(None, own).tolist() == [3, 5]


def test_parent_weight_needs_a_parent_and_a_share_below_one() -> None:
    with pytest.raises(UserError, match=r"train.parent_weight needs train.init_from"):
        parse_params({"train": {"parent_weight": 0.5}})
    with pytest.raises(UserError, match=r"train.parent_weight must be in \[0, 1\)"):
        parse_params({"train": {"init_from": "models/reference", "parent_weight": 1.0}})
    assert parse_params({"train": {"init_from": "x", "parent_weight": 0.5}}).train.parent_weight
