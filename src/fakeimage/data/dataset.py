"""The prepared data the model stages read: labelled uint8 arrays per split, and their report.

preprocess writes `data/prepared/{train,val,test}.npz` and `reports/data.json` (counts and the
data fingerprint); train, evaluate and promote read them back through `load_prepared`.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakeimage.atomic import write_bytes
from fakeimage.errors import UserError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray
    """(n, 32, 32, 3) uint8, as `fakeimage.data.images.to_model_input` makes them."""
    y: np.ndarray
    """(n,) uint8, 1 = FAKE."""


@dataclass(frozen=True)
class Prepared:
    """The three splits and the data report preprocess wrote beside them."""

    train: Dataset
    val: Dataset
    test: Dataset
    report: dict[str, Any]

    @property
    def fingerprint(self) -> str:
        return str(self.report["fingerprint"])


def save_split(dataset: Dataset, path: Path) -> None:
    """Write x and y as an uncompressed .npz (fast to load), atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, x=dataset.x, y=dataset.y)
    write_bytes(path, buffer.getvalue())


def load_split(path: Path) -> Dataset:
    if not path.is_file():
        raise UserError(f"{path} not found: run the preprocess stage first (dvc repro preprocess)")
    with np.load(path) as arrays:
        return Dataset(arrays["x"], arrays["y"])


def load_prepared(folder: Path, report: Path) -> Prepared:
    """The splits in `folder` and the data report, as preprocess wrote them."""
    if not report.is_file():
        raise UserError(f"{report} not found: run the preprocess stage first (dvc repro)")
    splits = {name: load_split(folder / f"{name}.npz") for name in SPLIT_NAMES}
    return Prepared(**splits, report=json.loads(report.read_text()))


def fingerprint(datasets: dict[str, Dataset]) -> str:
    """A hash of the preprocessed arrays: runs with equal fingerprints saw identical data."""
    digest = hashlib.sha256()
    for name in SPLIT_NAMES:
        digest.update(name.encode())
        digest.update(datasets[name].x.tobytes())
        digest.update(datasets[name].y.tobytes())
    return digest.hexdigest()
