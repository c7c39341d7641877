"""What every detector offers, whichever engine runs it: calibrated scores, and what the
uncertainty rule needs.

`Detector` (Keras, for training-side work) and `OnnxDetector` (ONNX Runtime, for serving)
differ only in how they compute the network's raw output and penultimate features; the card
(threshold, calibration, uncertainty rule) and the feature statistics are applied here, once.
Plain NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fakeimage.detector.card import ModelCard
from fakeimage.detector.uncertainty import FeatureStats, calibrate, detail_energy


@dataclass(frozen=True)
class Assessment:
    """Per image: calibrated P(fake), feature distance to the training images, fine detail."""

    prob_fake: np.ndarray
    distance: np.ndarray
    """NaN where the model has no feature statistics."""
    detail: np.ndarray
    features: np.ndarray
    """(N, D) the network's penultimate features: what drift checks summarise."""


class CardedDetector:
    """The card-driven half of a detector; subclasses provide `raw_scores`."""

    card: ModelCard
    stats: FeatureStats | None

    def raw_scores(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's P(fake) (N,) and penultimate features (N, D) for uint8 images."""
        raise NotImplementedError

    @property
    def threshold(self) -> float:
        return self.card.threshold

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        return self.card.version

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """Calibrated P(fake) for uint8 images (N, 32, 32, 3): what verdicts are made from."""
        raw, _ = self.raw_scores(images)
        return calibrate(self.card.calibration, raw)

    def assess(self, images: np.ndarray) -> Assessment:
        """Everything an answer needs about each image, from one forward pass."""
        raw, features = self.raw_scores(images)
        prob = calibrate(self.card.calibration, raw)
        if self.stats is None:
            distance = np.full(len(prob), np.nan)
        else:
            distance = self.stats.distance(features)
        return Assessment(prob, distance, detail_energy(images), features)
