"""Rehearsal: fine-tuning on new sources without forgetting the parent's.

Fine-tuning a detector on a few hundred samples of a new generator alone teaches it that
generator and unteaches the rest: REAL accuracy fell by 10 points in a probe here, CIFAKE's by
25 in another. Replaying a sample of what the parent learnt from alongside the new images keeps
the old decision boundary in the gradient (experience replay, as continual learning calls it).

`train.replay` sets the replayed share of the fine-tuning set. Every training image of a
source the parent never trained on is taken; the rest of the set is a seeded sample of the
sources it did train on, from the training split only (validation and test images, and
held-out sources, stay unseen), chosen so both classes end up as large as they can be, each
source in proportion to its size. A source counts as the parent's when its card names it among
the sources it trained on, or when at least half of its training images are in the parent's
record of training images (so a folder renamed since is still known). The sample is fixed by
the seed and recorded: its images join the child's training record, its counts go on the card.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from fakeimage.data.dataset import Dataset
from fakeimage.data.hashes import seen_in_training
from fakeimage.data.mixing import sample_by_source
from fakeimage.errors import UserError
from fakeimage.training.finetune import Parent

KNOWN_SHARE = 0.5
"""A source is the parent's when at least this share of its training images is in its record."""


@dataclass(frozen=True)
class Rehearsal:
    """The fine-tuning set: new images and the replayed sample, counted per source."""

    dataset: Dataset
    new: dict[str, int]
    replayed: dict[str, int]

    def describe(self) -> str:
        new = ", ".join(f"{name} {count}" for name, count in self.new.items())
        replayed = sum(self.replayed.values())
        return f"{sum(self.new.values())} new images ({new}) and {replayed} replayed"


def known_sources(train: Dataset, parent: Parent) -> set[str]:
    """The sources of the training split the parent trained on, by name or by its images."""
    seen = seen_in_training(train.x, parent.training_images)
    names = train.source_names()
    return {
        str(name)
        for name in set(names)
        if name in parent.sources or seen[names == name].mean() >= KNOWN_SHARE
    }


def replay_sizes(new_per_class: np.ndarray, available: np.ndarray, total: int) -> np.ndarray:
    """Replayed images per class (REAL, FAKE): `total` in all where there are that many,
    filling the class the new images lack first, so the whole set is as balanced as it can be."""
    half = (int(new_per_class.sum()) + total) / 2
    fake = int(np.clip(round(half - new_per_class[1]), 0, available[1]))
    real = min(total - min(fake, total), int(available[0]))
    fake = min(total - real, int(available[1]))
    return np.array([real, fake])


def rehearse(train: Dataset, parent: Parent, share: float, seed: int) -> Rehearsal:
    """The fine-tuning set for a child of `parent`."""
    if len(parent.training_images) == 0 and not parent.sources:
        raise UserError(
            "train.replay: the parent's card names no source it trained on and it has no "
            "record of its training images, so new sources cannot be told from its own; "
            "fine-tune without train.replay"
        )
    names = train.source_names()
    known = np.isin(names, sorted(known_sources(train, parent)))
    new = np.flatnonzero(~known)
    if len(new) == 0:
        raise UserError(
            "train.replay: the parent trained on every source of the training split; add the "
            "new generator's images (data/extra/FAKE/<name>/) or set train.replay: null"
        )
    total = round(len(new) * share / (1 - share))
    new_per_class = np.bincount(train.y[new], minlength=2)
    old = [np.flatnonzero(known & (train.y == label)) for label in (0, 1)]
    sizes = replay_sizes(new_per_class, np.array([len(members) for members in old]), total)
    rng = np.random.default_rng(seed)
    replayed = np.concatenate(
        [
            sample_by_source(members, names, int(size), rng)
            for members, size in zip(old, sizes, strict=True)
        ]
    ).astype(int)
    index = np.sort(np.concatenate([new, replayed]))
    dataset = Dataset(train.x[index], train.y[index], train.sources[index])
    return Rehearsal(dataset, _counts(names[new]), _counts(names[replayed]))


def _counts(names: np.ndarray) -> dict[str, int]:
    return dict(sorted(Counter(names.tolist()).items()))
