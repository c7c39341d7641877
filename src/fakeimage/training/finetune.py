"""Starting from an existing detector (`train.init_from`) instead of random weights.

Fine-tuning adapts a detector to a new generator, or to degraded images, in a fraction of the
time training from scratch takes. The child carries its parent's lineage on its card and in
MLflow, and the record of its training images includes the parent's: the champion rule then
scores it only on images neither it nor its ancestors trained on.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from fakeimage.config import ModelParams
from fakeimage.detector.card import ParentModel
from fakeimage.detector.folder import DetectorFolder, is_detector_folder
from fakeimage.errors import UserError
from fakeimage.models.keras_detector import load_detector

_SHAPE_KEYS = ("arch", "width", "depth", "stem")
"""The model params that decide the weights' shapes (dropout does not)."""


@dataclass(frozen=True)
class Parent:
    """A detector to start from: its weights, what the child's card says about it, and the
    record of the images it trained on (empty when it has none)."""

    model: keras.Model
    record: ParentModel
    training_images: np.ndarray
    model_params: ModelParams
    sources: frozenset[str] = frozenset()
    """The sources it trained on, by name (REAL, FAKE, FAKE/dcgan)."""


def load_parent(location: str) -> Parent:
    """The detector at a model folder or an MLflow `models:/`/`runs:/` URI."""
    if location.startswith(("models:/", "runs:/")):
        from fakeimage.registry.store import fetch_detector

        with tempfile.TemporaryDirectory(prefix="fakeimage-parent-") as scratch:
            return _parent(fetch_detector(location, Path(scratch)), location)
    if not is_detector_folder(Path(location)):
        raise UserError(
            f"train.init_from: {location} is not a model folder; give a model folder "
            "(models/champion, models/reference) or a models:/ URI"
        )
    return _parent(DetectorFolder(Path(location)), location)


def _parent(folder: DetectorFolder, location: str) -> Parent:
    detector = load_detector(folder.path)
    card = detector.card
    record = ParentModel(
        location=location,
        name=card.name,
        version=card.version,
        run_id=card.run_id,
        data_source=card.data.source,
        data_fingerprint=card.data.fingerprint,
    )
    return Parent(
        detector.model,
        record,
        folder.training_record(),
        card.params.model,
        card.data.learnt_sources,
    )


def check_compatible(parent: Parent, params: ModelParams) -> None:
    """The child's model params must build the parent's network, or its weights cannot fit."""
    wanted = {key: getattr(params, key) for key in _SHAPE_KEYS}
    found = {key: getattr(parent.model_params, key) for key in _SHAPE_KEYS}
    if wanted != found:
        described = ", ".join(f"model.{key}={value}" for key, value in found.items())
        raise UserError(
            f"train.init_from: {parent.record.location} was built with {described}; "
            "set the same model params to fine-tune it"
        )


def start_from(model: keras.Model, parent: Parent) -> None:
    """Copy the parent's weights into a freshly built model of the same network."""
    try:
        model.set_weights(parent.model.get_weights())
    except ValueError as exc:
        raise UserError(
            f"train.init_from: the weights of {parent.record.location} do not fit ({exc})"
        ) from None


def mix_back(model: keras.Model, parent: Parent, parent_weight: float) -> None:
    """Weights = parent_weight * parent + (1 - parent_weight) * fine-tuned, layer by layer.

    Averaging a fine-tuned network with the one it started from keeps much of what each knows
    (Wortsman et al., WiSE-FT): here, clean CIFAKE accuracy and robustness to degradations.
    """
    if parent_weight:
        mixed = [
            parent_weight * old + (1 - parent_weight) * new
            for old, new in zip(parent.model.get_weights(), model.get_weights(), strict=True)
        ]
        model.set_weights(mixed)


def combined_record(parent: Parent | None, own: np.ndarray) -> np.ndarray:
    """The child's training-image record: its own images and every one its parent saw."""
    if parent is None:
        return own
    return np.union1d(own, parent.training_images).astype(np.uint64)
