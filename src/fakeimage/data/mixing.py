"""Mixing sources into the training split: per-source weights, held-out sources, balanced classes.

A detector trained on CIFAKE plus a zoo of generators sees far more FAKE than REAL images, and
some sources matter more than others. `data.sources` in params.yaml weighs them:

- weight w (default 1) takes w times a source's training images: below 1 a seeded sample,
  above 1 every image round(w) times or so (whole repeats, then a seeded remainder), so a few
  hundred samples of a new generator can count as much as thousands of older ones;
- weight 0 holds a source out: it leaves the training and validation splits (so neither the
  network nor the threshold, calibration or promotion ever see it) and stays in the test split,
  which then says how well the detector catches a generator it never met;
- then, with `data.balance`, the larger class is sampled down to the smaller one's size, each
  of its sources keeping its share, so "FAKE" never wins by being most of the data.

Validation and test splits are not weighted: they measure every source as it comes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fakeimage.data.dataset import Dataset
from fakeimage.errors import UserError


def _take(dataset: Dataset, index: np.ndarray) -> Dataset:
    return Dataset(dataset.x[index], dataset.y[index], dataset.sources[index])


def _weighted(members: np.ndarray, weight: float, rng: np.random.Generator) -> np.ndarray:
    """`weight` times `members`: whole repeats, then a seeded sample for the fraction."""
    whole, fraction = divmod(weight, 1.0)
    extra = rng.choice(members, size=round(fraction * len(members)), replace=False)
    return np.concatenate([np.tile(members, int(whole)), np.sort(extra)])


def mix(
    splits: dict[str, Dataset], weights: Mapping[str, float], *, balance: bool, seed: int
) -> dict[str, Dataset]:
    """The splits with held-out sources gone from validation and the training split mixed;
    test stays as it is."""
    check_names(weights, {str(name) for data in splits.values() for name in data.source_names()})
    val = without(splits["val"], held_out(weights))
    if len(set(val.y.tolist())) < 2:
        raise UserError("data.sources holds out every source of a class from validation")
    train = mix_training(splits["train"], weights, balance=balance, seed=seed)
    return {**splits, "train": train, "val": val}


def check_names(weights: Mapping[str, float], names: set[str]) -> None:
    """Every weighted source must be in the data: a misspelt name would silently weigh nothing."""
    if unknown := sorted(set(weights) - names):
        held = ", ".join(sorted(names))
        raise UserError(
            f"data.sources names {unknown[0]}, which the data does not hold (it holds: {held}); "
            "fix the name or remove it"
        )


def mix_training(
    train: Dataset, weights: Mapping[str, float], *, balance: bool, seed: int
) -> Dataset:
    """The training split with each source weighed and, if `balance`, both classes as large."""
    rng = np.random.default_rng(seed)
    names = train.source_names()
    chosen = []
    for name in sorted(set(names)):
        members = np.flatnonzero(names == name)
        chosen.append(_weighted(members, weights.get(name, 1.0), rng))
    index = np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, int)
    if balance:
        index = _balanced(index, train.y, names, rng)
    mixed = _take(train, index)
    if len(set(mixed.y.tolist())) < 2:
        raise UserError(
            "data.sources leaves the training split without one class: give REAL and FAKE "
            "sources a weight above 0"
        )
    return mixed


def _balanced(
    index: np.ndarray, labels: np.ndarray, names: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """`index` with its larger class sampled down to the smaller's size, source by source in
    proportion (largest remainders), so each source keeps its share of its class."""
    counts = [int((labels[index] == c).sum()) for c in (0, 1)]
    size = min(counts)
    larger = int(np.argmax(counts))
    if counts[0] == counts[1] or size == 0:
        return index
    kept = index[labels[index] != larger]
    in_class = index[labels[index] == larger]
    return np.sort(np.concatenate([kept, sample_by_source(in_class, names, size, rng)]))


def sample_by_source(
    members: np.ndarray, names: np.ndarray, size: int, rng: np.random.Generator
) -> np.ndarray:
    """`size` of `members` (indices into `names`), drawn without replacement source by source
    in proportion to each source's count (largest remainders), so none is over-represented."""
    sources = sorted(set(names[members]))
    counts = np.array([(names[members] == source).sum() for source in sources])
    shares = counts * size / max(1, len(members))
    quotas = np.floor(shares).astype(int)
    for position in np.argsort(-(shares - quotas), kind="stable")[: size - quotas.sum()]:
        quotas[position] += 1
    chosen = [
        rng.choice(members[names[members] == source], size=quota, replace=False)
        for source, quota in zip(sources, quotas, strict=True)
    ]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, int)


def held_out(weights: Mapping[str, float]) -> set[str]:
    """The sources weighed 0: in the test split only."""
    return {name for name, weight in weights.items() if weight == 0}


def without(dataset: Dataset, sources: set[str]) -> Dataset:
    """The dataset without the images of these sources."""
    if not sources:
        return dataset
    return _take(dataset, np.flatnonzero(~np.isin(dataset.source_names(), sorted(sources))))
