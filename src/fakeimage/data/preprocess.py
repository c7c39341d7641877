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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakeimage.data.dataset import Dataset, fingerprint
from fakeimage.data.hashes import image_digest
from fakeimage.data.images import BadImageError, load_model_input
from fakeimage.data.layout import CLASS_NAMES, LabelledFile, list_labelled_files
from fakeimage.errors import UserError

_EXAMPLES = 5


@dataclass
class Decoded:
    """Decoded images of one source split, with a content hash per image."""

    pixels: list[np.ndarray] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)


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
        split = decoded[item.split]
        split.pixels.append(pixels)
        split.labels.append(item.label)
        split.hashes.append(image_digest(pixels))
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
        split = decoded[name]
        for pixels, label, digest in zip(split.pixels, split.labels, split.hashes, strict=True):
            if len(labels_by_hash[digest]) > 1:
                counts["label_conflicts"] += 1
            elif digest in seen:
                key = "across_splits" if name != "test" and digest in in_test else "within_split"
                counts[key] += 1
            else:
                seen.add(digest)
                kept.pixels.append(pixels)
                kept.labels.append(label)
                kept.hashes.append(digest)
        result[name] = kept
    counts["total"] = counts["within_split"] + counts["across_splits"]
    return result, counts


def _carve(split: Decoded, fraction: float, seed: int) -> tuple[Decoded, Decoded]:
    """Split off `fraction` of each class, chosen by a seeded shuffle of content-hash order."""
    rng = np.random.default_rng(seed)
    rest, carved = Decoded(), Decoded()
    for label in (0, 1):
        members = sorted(
            (i for i, y in enumerate(split.labels) if y == label), key=lambda i: split.hashes[i]
        )
        order = rng.permutation(len(members))
        take = round(len(members) * fraction)
        for rank, position in enumerate(order):
            index = members[position]
            target = carved if rank < take else rest
            target.pixels.append(split.pixels[index])
            target.labels.append(label)
            target.hashes.append(split.hashes[index])
    return rest, carved


def _sorted_by_content(split: Decoded) -> Decoded:
    """The same images in content-hash order, so file names never change the arrays."""
    order = sorted(range(len(split.hashes)), key=lambda i: split.hashes[i])
    return Decoded(
        [split.pixels[i] for i in order],
        [split.labels[i] for i in order],
        [split.hashes[i] for i in order],
    )


def make_splits(
    decoded: dict[str, Decoded], *, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Dataset]:
    if "train" not in decoded:
        raise UserError("the data has no train images: expected train/REAL and train/FAKE")
    train = decoded["train"]
    if "test" in decoded and decoded["test"].labels:
        test = _sorted_by_content(decoded["test"])
    else:
        train, test = _carve(train, test_fraction, seed + 1)
    train, val = _carve(train, val_fraction, seed)
    splits = {"train": train, "val": val, "test": test}
    datasets = {}
    for name, split in splits.items():
        if len(set(split.labels)) < 2:
            raise UserError(
                f"the {name} split would lack a class (too few images): add data or change "
                "data.val_fraction / data.test_fraction"
            )
        datasets[name] = Dataset(np.stack(split.pixels), np.asarray(split.labels, np.uint8))
    return datasets


def preprocess(
    raw_dir: Path,
    *,
    max_bad_fraction: float,
    val_fraction: float,
    test_fraction: float,
    seed: int,
) -> tuple[dict[str, Dataset], dict]:
    """Run decode, deduplicate and split; return the datasets and the data report."""
    files = list_labelled_files(raw_dir)
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
        "source_splits": sorted(decoded),
        "fingerprint": fingerprint(datasets),
    }
    return datasets, report
