"""From a CIFAKE-layout folder to deduplicated, stratified uint8 arrays the train stage reads fast.

Order of work, and why:
1. decode every file with the one shared preprocessing function (bad files counted, skipped);
2. remove exact duplicates by a hash of the decoded pixels, keeping the test copy, so no image
   the model is scored on was also trained or validated on (CIFAKE has such duplicates);
3. carve validation (and test, when the source has none) from train, stratified by class,
   in an order fixed by content hashes and the seed, so file names and listing order never
   affect which image lands where.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakeimage.data.dataset import Dataset, fingerprint
from fakeimage.data.hashes import image_digest
from fakeimage.data.images import BadImageError, load_model_input
from fakeimage.data.layout import CLASS_NAMES, LabelledFile, list_labelled_files
from fakeimage.data.mixing import held_out, mix
from fakeimage.errors import UserError

_EXAMPLES = 5


@dataclass
class Decoded:
    """Decoded images of one split, with a content hash and the source of each image."""

    pixels: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, pixels: np.ndarray, label: int, digest: str, source: str) -> None:
        self.pixels.append(pixels)
        self.labels.append(label)
        self.hashes.append(digest)
        self.sources.append(source)

    def extend(self, other: Decoded) -> Decoded:
        for item in other.items():
            self.add(*item)
        return self

    def items(self) -> list[tuple[np.ndarray, int, str, str]]:
        return list(zip(self.pixels, self.labels, self.hashes, self.sources, strict=True))


def _decode_one(item: LabelledFile) -> tuple[np.ndarray | None, str]:
    try:
        return load_model_input(item.path), ""
    except BadImageError as exc:
        return None, str(exc)


def decode_files(files: list[LabelledFile], workers: int = 0) -> tuple[dict[str, Decoded], dict]:
    """Decode all files; return per-source-split images and a bad-file summary."""
    workers = workers or min(4, os.cpu_count() or 1)
    decoded: dict[str, Decoded] = defaultdict(Decoded)
    bad: list[str] = []
    if workers > 1 and len(files) > 2000:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_decode_one, files, chunksize=512))
    else:
        results = [_decode_one(item) for item in files]
    for item, (pixels, reason) in zip(files, results, strict=True):
        if pixels is None:
            bad.append(f"{item.path.name}: {reason}")
            continue
        decoded[item.split].add(pixels, item.label, image_digest(pixels), item.source)
    return dict(decoded), {"count": len(bad), "examples": bad[:_EXAMPLES]}


def deduplicate(decoded: dict[str, Decoded]) -> tuple[dict[str, Decoded], dict[str, int]]:
    """Keep one copy of each distinct image; a copy in test wins over train.

    An image that occurs under both labels is ambiguous and dropped altogether.
    """
    labels_by_hash: dict[str, set[int]] = defaultdict(set)
    for split in decoded.values():
        for digest, label in zip(split.hashes, split.labels, strict=True):
            labels_by_hash[digest].add(label)
    in_test = set(decoded["test"].hashes) if "test" in decoded else set()
    seen: set[str] = set()
    counts = {"within_split": 0, "across_splits": 0, "label_conflicts": 0}
    result: dict[str, Decoded] = {}
    for name in sorted(decoded, key=lambda s: s != "test"):  # test first: its copies win
        kept = Decoded()
        for pixels, label, digest, source in decoded[name].items():
            if len(labels_by_hash[digest]) > 1:
                counts["label_conflicts"] += 1
            elif digest in seen:
                key = "across_splits" if name != "test" and digest in in_test else "within_split"
                counts[key] += 1
            else:
                seen.add(digest)
                kept.add(pixels, label, digest, source)
        result[name] = kept
    counts["total"] = counts["within_split"] + counts["across_splits"]
    return result, counts


def _carve(
    split: Decoded, fraction: float, seed: int, keep: set[tuple[int, str]] = frozenset()
) -> tuple[Decoded, Decoded]:
    """Split off `fraction` of each class and source (but those in `keep`), chosen by a seeded
    shuffle of content-hash order, so every source is in every split in its proportion."""
    rng = np.random.default_rng(seed)
    rest, carved = Decoded(), Decoded()
    groups = list(zip(split.labels, split.sources, strict=True))
    for group in sorted(set(groups)):
        members = sorted(
            (i for i, key in enumerate(groups) if key == group), key=split.hashes.__getitem__
        )
        kept = group in keep
        order = range(len(members)) if kept else rng.permutation(len(members))
        take = 0 if kept else round(len(members) * fraction)
        for rank, position in enumerate(order):
            index = members[position]
            target = carved if rank < take else rest
            target.add(split.pixels[index], group[0], split.hashes[index], group[1])
    return rest, carved


def _sorted_by_content(split: Decoded) -> Decoded:
    """The same images in content-hash order, so file names never change the arrays."""
    order = sorted(range(len(split.hashes)), key=lambda i: split.hashes[i])
    return Decoded(
        [split.pixels[i] for i in order],
        [split.labels[i] for i in order],
        [split.hashes[i] for i in order],
        [split.sources[i] for i in order],
    )


def make_splits(
    decoded: dict[str, Decoded], *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Dataset]:
    if "train" not in decoded:
        raise UserError("the data has no train images: expected train/REAL and train/FAKE")
    # A source's own test images are its test split; test is carved from the train images of
    # the sources that have none (CIFAKE's train split alone, a zoo without test samples).
    given = decoded.get("test", Decoded())
    tested = set(zip(given.labels, given.sources, strict=True))
    train, test = _carve(decoded["train"], test_fraction, seed + 1, keep=tested)
    if given.labels:
        test = _sorted_by_content(given).extend(test)
    train, val = _carve(train, val_fraction, seed)
    splits = {"train": train, "val": val, "test": test}
    datasets = {}
    for name, split in splits.items():
        if len(set(split.labels)) < 2:
            raise UserError(
                f"the {name} split would lack a class (too few images): add data or change "
                "data.val_fraction / data.test_fraction"
            )
        datasets[name] = Dataset(
            np.stack(split.pixels),
            np.asarray(split.labels, np.uint8),
            np.asarray(split.sources, dtype=str),
        )
    return datasets


def preprocess(
    raw_dir: Path,
    *,
    max_bad_fraction: float,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    extra_dirs: tuple[Path, ...] = (),
    weights: Mapping[str, float] | None = None,
    balance: bool = False,
) -> tuple[dict[str, Dataset], dict]:
    """Run decode, deduplicate, split and mix; return the datasets and the data report.

    `extra_dirs` hold more sources in the same layout that may cover one class only (the
    generator zoo's FAKE/<generator>/ folders); their images join the same splits. The
    training split is then mixed by source `weights` and `balance` (`data.mixing`).
    """
    weights = dict(weights or {})
    files = list_labelled_files(raw_dir)
    for extra in extra_dirs:
        files += list_labelled_files(extra, both_classes=False)
    decoded, bad = decode_files(files)
    bad_fraction = bad["count"] / len(files)
    if bad_fraction > max_bad_fraction:
        examples = "; ".join(bad["examples"])
        raise UserError(
            f"{bad['count']} of {len(files)} files are unreadable ({bad_fraction:.1%} > "
            f"data.max_bad_fraction {max_bad_fraction:.1%}), e.g. {examples}"
        )
    deduplicated, duplicates = deduplicate(decoded)
    datasets = make_splits(
        deduplicated, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    datasets = mix(datasets, weights, balance=balance, seed=seed + 2)
    report = {
        "files": len(files),
        "images": sum(len(d.labels) for d in decoded.values()),
        "classes": {
            CLASS_NAMES[c]: sum(d.labels.count(c) for d in decoded.values()) for c in (0, 1)
        },
        "bad_files": bad,
        "duplicates_removed": duplicates,
        "splits": {
            name: {
                "total": len(ds.y),
                **{CLASS_NAMES[c]: int((ds.y == c).sum()) for c in (0, 1)},
            }
            for name, ds in datasets.items()
        },
        "mix": {
            "weights": dict(sorted(weights.items())),
            "held_out": sorted(held_out(weights)),
            "balanced": balance,
        },
        "source_splits": sorted(decoded),
        "sources": _source_counts(datasets),
        "fingerprint": fingerprint(datasets),
    }
    return datasets, report


def _source_counts(datasets: dict[str, Dataset]) -> dict[str, dict[str, int]]:
    """Images per source (REAL, FAKE/dcgan, ...) and split."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for split, data in datasets.items():
        names, sizes = np.unique(data.source_names(), return_counts=True)
        for name, size in zip(names, sizes, strict=True):
            counts[str(name)][split] = int(size)
    return dict(sorted(counts.items()))
