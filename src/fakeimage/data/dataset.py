"""The prepared data the model stages read: labelled uint8 arrays per split, and their report.

preprocess writes `data/prepared/{train,val,test}.npz` and `reports/data.json` (counts and the
data fingerprint); train, evaluate and promote read them back through `load_prepared`.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fakeimage.atomic import write_bytes
from fakeimage.data.layout import CLASS_NAMES
from fakeimage.errors import UserError

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Dataset:
    x: np.ndarray
    """(n, 32, 32, 3) uint8, as `fakeimage.data.images.to_model_input` makes them."""
    y: np.ndarray
    """(n,) uint8, 1 = FAKE."""
    sources: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    """(n,) str: the sub-folder of REAL/ or FAKE/ each image came from ("" when none), so
    every figure can be told per source (FAKE/sd14, FAKE/dcgan, REAL/phone)."""

    def __post_init__(self) -> None:
        if len(self.sources) != len(self.y):
            if len(self.sources):
                raise ValueError(f"{len(self.sources)} sources for {len(self.y)} images")
            object.__setattr__(self, "sources", np.full(len(self.y), "", dtype=str))

    def source_names(self) -> np.ndarray:
        """Per image, its class and source as reports name them: REAL, FAKE/dcgan."""
        classes = np.array(CLASS_NAMES)[self.y.astype(int)]
        return np.array(
            [f"{c}/{s}" if s else c for c, s in zip(classes, self.sources, strict=True)], dtype=str
        )


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
    """Write x, y and the sources as an uncompressed .npz (fast to load), atomically."""
    buffer = io.BytesIO()
    np.savez(buffer, x=dataset.x, y=dataset.y, sources=dataset.sources.astype(str))
    write_bytes(path, buffer.getvalue())


def load_split(path: Path) -> Dataset:
    if not path.is_file():
        raise UserError(f"{path} not found: run the preprocess stage first (dvc repro preprocess)")
    with np.load(path) as arrays:
        sources = arrays["sources"] if "sources" in arrays.files else np.zeros(0, dtype=str)
        return Dataset(arrays["x"], arrays["y"], sources)


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
