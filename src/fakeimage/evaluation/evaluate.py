"""Scoring a detector on labelled data: the code behind the evaluate stage and the CLI."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fakeimage.data.layout import list_labelled_files
from fakeimage.data.preprocess import Dataset, decode_files, load_split
from fakeimage.data.sources.archives import extract_archive
from fakeimage.evaluation.metrics import classification_metrics
from fakeimage.evaluation.robustness import CORRUPTIONS

ROBUSTNESS_KEYS = ("accuracy", "f1", "roc_auc", "log_loss")


def robustness_table(
    score: Callable[[np.ndarray], np.ndarray], data: Dataset, threshold: float, bins: int
) -> dict[str, dict[str, float]]:
    """Key metrics on each corrupted copy of the data, at the same threshold."""
    table = {}
    for name, corrupt in CORRUPTIONS.items():
        probabilities = score(corrupt(data.x))
        scores = classification_metrics(data.y, probabilities, threshold, bins)
        table[name] = {key: scores[key] for key in ROBUSTNESS_KEYS}
    return table


def worst_corruption(table: dict[str, dict[str, float]]) -> tuple[str, float]:
    """The corruption the detector is least accurate under, and that accuracy."""
    name = min(table, key=lambda corruption: table[corruption]["accuracy"])
    return name, table[name]["accuracy"]


def load_labelled_data(location: Path, max_extract_mb: int = 4096) -> tuple[Dataset, int]:
    """Images and labels from a prepared .npz split, a CIFAKE-layout folder, or a zip/tar.

    Returns the data and the number of unreadable files that were skipped.
    """
    if location.suffix == ".npz":
        return load_split(location), 0
    if location.is_dir():
        return _decode_folder(location)
    with tempfile.TemporaryDirectory(prefix="fakeimage-eval-") as scratch:
        extracted = Path(scratch) / "data"
        extract_archive(location, extracted, max_bytes=max_extract_mb * 2**20)
        return _decode_folder(extracted)


def _decode_folder(root: Path) -> tuple[Dataset, int]:
    decoded, bad = decode_files(list_labelled_files(root))
    pixels = [p for split in decoded.values() for p in split.pixels]
    labels = [y for split in decoded.values() for y in split.labels]
    return Dataset(np.stack(pixels), np.asarray(labels, np.uint8)), bad["count"]
