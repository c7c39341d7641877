"""A packaged detector folder: the one place that knows which files it holds.

Every model the project hands on (models/trained, models/evaluated, models/champion, the
shipped models/reference, a registry version's `detector/` artifacts, a BentoML store model)
is such a folder:

- `card.json`: the typed card (`fakeimage.detector.card.ModelCard`), always present;
- `model.keras`: the Keras network (training side);
- `model.onnx`: the checked ONNX graph that serving runs, once exported;
- `training_images.npy`: the record of its training images (`fakeimage.data.hashes`);
- `features.npz`: the feature statistics of its uncertainty rule, once evaluated;
- `MODEL_CARD.md`: the card rendered for people, once evaluated.

Folders are written whole: assembled beside the target and swapped in by rename, so a reader
never sees half of one. Plain NumPy: the served process imports it without TensorFlow.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeimage.atomic import replace_directory, write_bytes, write_text
from fakeimage.data.hashes import load_training_record, save_training_record
from fakeimage.detector.card import ModelCard
from fakeimage.detector.markdown import render_model_card
from fakeimage.detector.uncertainty import FeatureStats
from fakeimage.errors import UserError

CARD_FILE = "card.json"
MODEL_FILE = "model.keras"
ONNX_FILE = "model.onnx"
TRAINING_IMAGES_FILE = "training_images.npy"
FEATURE_FILE = "features.npz"
MARKDOWN_FILE = "MODEL_CARD.md"
FILES = (CARD_FILE, MODEL_FILE, ONNX_FILE, TRAINING_IMAGES_FILE, FEATURE_FILE, MARKDOWN_FILE)
"""Every file a detector folder may hold; nothing else belongs to it."""
IDENTITY_FILES = (MODEL_FILE, CARD_FILE)
"""What makes a served model itself: its weights and its card (threshold, calibration, rule)."""

WriteModel = Callable[[Path], None]
"""Writes the Keras network to the path it is given (`keras.Model.save`)."""


def is_detector_folder(path: Path) -> bool:
    return (path / CARD_FILE).is_file()


@dataclass(frozen=True)
class DetectorFolder:
    """A detector folder on disk, read through its card."""

    path: Path

    @property
    def model_file(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def onnx_file(self) -> Path:
        return self.path / ONNX_FILE

    @property
    def record_file(self) -> Path:
        return self.path / TRAINING_IMAGES_FILE

    @property
    def features_file(self) -> Path:
        return self.path / FEATURE_FILE

    def files(self) -> list[Path]:
        """The folder's files that exist, in `FILES` order."""
        return [self.path / name for name in FILES if (self.path / name).is_file()]

    def card(self) -> ModelCard:
        path = self.path / CARD_FILE
        if not path.is_file():
            raise UserError(f"{path} not found: a model folder carries its card (dvc repro)")
        return ModelCard.from_json(path.read_text(), str(path))

    def has_onnx(self) -> bool:
        """Whether the folder holds the checked ONNX graph its card records."""
        return self.onnx_file.is_file() and self.card().onnx is not None

    def training_record(self) -> np.ndarray:
        return load_training_record(self.record_file)

    def feature_stats(self, card: ModelCard) -> FeatureStats | None:
        """The statistics the card's uncertainty rule needs, if it has a rule."""
        if card.uncertainty is None:
            return None
        if not self.features_file.is_file():
            raise UserError(
                f"{self.features_file} not found: the card's uncertainty rule needs it; copy "
                "the whole model folder, or re-run the evaluate stage"
            )
        return FeatureStats.load(self.features_file)


def write_card(folder: Path, card: ModelCard) -> None:
    """Replace the card of an existing folder (and its Markdown rendering) in place."""
    write_text(folder / CARD_FILE, card.to_json())
    if card.evaluation is not None:
        write_text(folder / MARKDOWN_FILE, render_model_card(card))


def write_folder(
    target: Path,
    card: ModelCard,
    *,
    model: WriteModel | Path,
    record: np.ndarray,
    onnx: bytes | Path | None = None,
    stats: FeatureStats | None = None,
) -> DetectorFolder:
    """Write a detector folder that replaces `target`.

    `model` writes the Keras network (or is a .keras file to copy); `onnx` is the exported graph
    (bytes or a file), `stats` the feature statistics of the card's uncertainty rule. An
    evaluated card is also rendered as Markdown.
    """
    if (onnx is None) != (card.onnx is None):
        raise ValueError("a card records an ONNX export exactly when the folder holds the graph")
    if (stats is None) != (card.uncertainty is None):
        raise ValueError("a card has an uncertainty rule exactly when the folder holds its stats")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        staging.chmod(0o755)
        if isinstance(model, Path):
            shutil.copyfile(model, staging / MODEL_FILE)
        else:
            model(staging / MODEL_FILE)
        save_training_record(staging / TRAINING_IMAGES_FILE, record)
        if isinstance(onnx, Path):
            shutil.copyfile(onnx, staging / ONNX_FILE)
        elif onnx is not None:
            write_bytes(staging / ONNX_FILE, onnx)
        if stats is not None:
            stats.save(staging / FEATURE_FILE)
        write_card(staging, card)
        replace_directory(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return DetectorFolder(target)


def copy_folder(source: Path, target: Path, card: ModelCard | None = None) -> DetectorFolder:
    """Copy a detector folder to `target` (whole, by rename), optionally with a new card."""
    folder = DetectorFolder(source)
    card = card or folder.card()
    return write_folder(
        target,
        card,
        model=folder.model_file,
        record=folder.training_record(),
        onnx=folder.onnx_file if card.onnx is not None else None,
        stats=folder.feature_stats(card),
    )
