"""The training mix: per-source weights, held-out sources, balanced classes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fakeimage.config import parse_params
from fakeimage.data.dataset import Dataset
from fakeimage.data.mixing import check_names, held_out, mix_training, without
from fakeimage.errors import UserError


def _dataset(counts: dict[str, int]) -> Dataset:
    """Distinct images per source name (REAL, FAKE, FAKE/dcgan): pixel 0 holds an index."""
    labels, sources = [], []
    for name, count in counts.items():
        label, _, source = name.partition("/")
        labels += [int(label == "FAKE")] * count
        sources += [source] * count
    x = np.zeros((len(labels), 32, 32, 3), np.uint8)
    x[:, 0, 0, 0] = np.arange(len(labels)) % 256
    x[:, 0, 0, 1] = np.arange(len(labels)) // 256
    return Dataset(x, np.asarray(labels, np.uint8), np.asarray(sources, dtype=str))


def _counts(dataset: Dataset) -> Counter[str]:
    return Counter(dataset.source_names().tolist())


def test_without_weights_or_balance_nothing_changes() -> None:
    train = _dataset({"REAL": 50, "FAKE": 30, "FAKE/dcgan": 40})
    mixed = mix_training(train, {}, balance=False, seed=0)
    np.testing.assert_array_equal(mixed.x, train.x)
    np.testing.assert_array_equal(mixed.sources, train.sources)


def test_weights_sample_repeat_and_hold_out_sources() -> None:
    train = _dataset({"REAL": 100, "FAKE": 100, "FAKE/dcgan": 40, "FAKE/vae": 30})
    weights = {"FAKE": 0.25, "FAKE/dcgan": 2.5, "FAKE/vae": 0}
    mixed = mix_training(train, weights, balance=False, seed=0)
    assert _counts(mixed) == {"REAL": 100, "FAKE": 25, "FAKE/dcgan": 100}
    dcgan = mixed.x[mixed.source_names() == "FAKE/dcgan"]
    copies = Counter(bytes(image[0, 0, :2]) for image in dcgan)
    assert set(copies.values()) == {2, 3}  # every image twice, half of them a third time
    assert len(copies) == 40
    again = mix_training(train, weights, balance=False, seed=0)
    np.testing.assert_array_equal(again.x, mixed.x)  # seeded
    other = mix_training(train, weights, balance=False, seed=1)
    assert not np.array_equal(other.x, mixed.x)


def test_balance_samples_the_larger_class_down_keeping_each_source_s_share() -> None:
    train = _dataset({"REAL": 100, "FAKE": 150, "FAKE/dcgan": 75, "FAKE/vae": 25})
    mixed = mix_training(train, {}, balance=True, seed=3)
    counts = _counts(mixed)
    assert counts["REAL"] == 100
    assert counts["FAKE"] + counts["FAKE/dcgan"] + counts["FAKE/vae"] == 100
    assert (counts["FAKE"], counts["FAKE/dcgan"], counts["FAKE/vae"]) == (60, 30, 10)
    # the smaller class may be the FAKE one too
    fewer_fakes = mix_training(_dataset({"REAL": 90, "FAKE": 30}), {}, balance=True, seed=3)
    assert _counts(fewer_fakes) == {"REAL": 30, "FAKE": 30}


def test_a_mix_without_a_class_is_one_clear_line() -> None:
    train = _dataset({"REAL": 10, "FAKE": 10})
    with pytest.raises(UserError, match="without one class"):
        mix_training(train, {"FAKE": 0}, balance=True, seed=0)


def test_held_out_sources_leave_a_split_and_unknown_names_are_refused() -> None:
    val = _dataset({"REAL": 5, "FAKE": 5, "FAKE/vae": 5})
    weights = {"FAKE/vae": 0.0, "FAKE": 0.5}
    assert held_out(weights) == {"FAKE/vae"}
    assert _counts(without(val, held_out(weights))) == {"REAL": 5, "FAKE": 5}
    check_names(weights, {"REAL", "FAKE", "FAKE/vae"})
    with pytest.raises(UserError, match=r"names FAKE/dcgn, which the data does not hold"):
        check_names({"FAKE/dcgn": 1.0}, {"REAL", "FAKE", "FAKE/dcgan"})


def test_params_read_the_mix() -> None:
    params = parse_params({"data": {"sources": [{"name": "FAKE/dcgan", "weight": 0}]}})
    assert params.data.weights == {"FAKE/dcgan": 0.0} and params.data.balance is True
    for bad, words in (
        ([{"name": "fake/dcgan"}], "name"),
        ([{"name": "FAKE", "weight": -1}], "weight"),
        ([{"name": "FAKE"}, {"name": "FAKE", "weight": 2}], "twice"),
    ):
        with pytest.raises(UserError, match=words):
            parse_params({"data": {"sources": bad}})
