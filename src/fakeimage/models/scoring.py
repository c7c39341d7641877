"""What every detector offers, whichever engine runs it: calibrated scores and their doubts.

`Detector` (Keras, for training-side work) and `OnnxDetector` (ONNX Runtime, for serving)
differ only in how they compute the network's raw output and penultimate features; the card
(threshold, calibration, uncertainty rule) and the feature statistics are applied here, once.
Plain NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeimage.errors import UserError
from fakeimage.models.card import ModelCard
from fakeimage.models.uncertainty import FeatureStats, calibrate, detail_energy


@dataclass(frozen=True)
class Assessment:
    """Per image: calibrated P(fake), feature distance to the training images, fine detail."""

    prob_fake: np.ndarray
    distance: np.ndarray
    """NaN where the model has no feature statistics."""
    detail: np.ndarray


class CardedDetector:
    """The card-driven half of a detector; subclasses provide `raw_scores`."""

    card: ModelCard | None
    stats: FeatureStats | None = None

    def raw_scores(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's P(fake) (N,) and penultimate features (N, D) for uint8 images."""
        raise NotImplementedError

    @property
    def threshold(self) -> float:
        return self.card.threshold if self.card else 0.5

    @property
    def name(self) -> str:
        return self.card.name if self.card else "model"

    @property
    def version(self) -> str:
        return self.card.version if self.card else "unregistered"

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Calibrated P(fake) for uint8 images (N, 32, 32, 3): what verdicts are made from."""
        raw, _ = self.raw_scores(images)
        return calibrate(self.card.calibration if self.card else None, raw)

    def assess(self, images: np.ndarray) -> Assessment:
        """Everything an answer needs about each image, from one forward pass."""
        raw, features = self.raw_scores(images)
        prob = calibrate(self.card.calibration if self.card else None, raw)
        if self.stats is None:
            distance = np.full(len(prob), np.nan)
        else:
            distance = self.stats.distance(features)
        return Assessment(prob, distance, detail_energy(images))


def load_feature_stats(folder: Path, card: ModelCard) -> FeatureStats | None:
    """The statistics the card's uncertainty rule names, if the folder carries them."""
    rule = card.uncertainty
    if rule is None:
        return None
    path = folder / rule.feature_file
    if not path.is_file():
        raise UserError(
            f"{path} not found: the card's uncertainty rule needs it; copy the whole model "
            "folder, or re-run the evaluate stage"
        )
    return FeatureStats.load(path)
