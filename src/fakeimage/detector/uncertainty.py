"""Calibrated probabilities and the `uncertain` answer: what every consumer of a score applies.

A verdict is only as good as the image is like what the model learnt. An answer is uncertain
when any of these holds (each a short code with a sentence for people):
- `near_threshold`: the calibrated P(fake) lies in the band around the threshold;
- `too_large` / `too_small` / `not_square`: the upload had to be shrunk, blown up or squeezed
  far from the 32x32 square images the model saw;
- `little_detail`: the 32x32 input is smoother than almost every training image (blurred,
  enlarged from a thumbnail, flat graphics): the traces the model reads are gone;
- `unfamiliar`: the network's own features lie far from the training images' (Mahalanobis
  distance to the nearest training source's mean, after Lee et al. 2018's class means).
The band and both limits are chosen on validation by the evaluate stage and kept on the card
(`UncertaintyRule`). Plain NumPy: the served process imports it without TensorFlow.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeimage.atomic import write_bytes
from fakeimage.data.images import DOWNSCALE_LIMIT, IMAGE_SIZE, MAX_ASPECT, UPSCALE_LIMIT
from fakeimage.detector.card import Calibration, UncertaintyRule

_EPSILON = 1e-7


def logit(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), _EPSILON, 1 - _EPSILON)
    return np.log(p) - np.log1p(-p)


def calibrate(calibration: Calibration | None, raw: np.ndarray) -> np.ndarray:
    """Calibrated P(fake) from the network's; unchanged without a calibration."""
    raw = np.asarray(raw, dtype=np.float64)
    if calibration is None:
        return raw
    return 1.0 / (1.0 + np.exp(-(calibration.scale * logit(raw) + calibration.bias)))


def detail_energy(images: np.ndarray) -> np.ndarray:
    """Fine detail per 32x32 image: RMS (grey levels) of what a 2x2 average removes.

    Blur, enlargement from a smaller image and flat graphics all drive it towards zero.
    """
    grey = np.asarray(images, dtype=np.float64).mean(axis=-1)
    n, h, w = grey.shape
    blocks = grey.reshape(n, h // 2, 2, w // 2, 2).mean(axis=(2, 4))
    smooth = np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2)
    return np.sqrt(((grey - smooth) ** 2).mean(axis=(1, 2)))


@dataclass(frozen=True)
class FeatureStats:
    """Where the training images' features lie: per-source means, one shared precision matrix."""

    means: np.ndarray
    """(K, D): one per training source (REAL, FAKE, FAKE/dcgan, ...; older folders: per class)."""
    precision: np.ndarray
    """(D, D): the inverse of the shared (shrunk) covariance."""

    def distance(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each feature vector (N, D) to the nearest source mean."""
        features = np.asarray(features, dtype=np.float64)
        squared = []
        for mean in self.means:
            centred = features - mean
            squared.append(np.sum((centred @ self.precision) * centred, axis=1))  # BLAS
        return np.sqrt(np.maximum(np.min(squared, axis=0), 0.0))

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez(
            buffer, means=self.means.astype(np.float32), precision=self.precision.astype(np.float32)
        )
        write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> FeatureStats:
        with np.load(path) as stored:
            return cls(stored["means"].astype(np.float64), stored["precision"].astype(np.float64))


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


def geometry_reasons(width: int, height: int) -> list[Reason]:
    """Uploads the model cannot judge by their size and shape alone."""
    found = []
    side = f"{IMAGE_SIZE}x{IMAGE_SIZE}"
    if max(width, height) > DOWNSCALE_LIMIT:
        found.append(
            Reason(
                "too_large",
                f"the image is {width}x{height}; the detector judges {side} images, and "
                "shrinking this one erases the fine traces it looks for",
            )
        )
    if min(width, height) < UPSCALE_LIMIT:
        found.append(
            Reason(
                "too_small",
                f"the image is only {width}x{height}; blown up to {side} it has too little "
                "detail to judge",
            )
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        found.append(
            Reason(
                "not_square",
                f"the image is not square ({width}x{height}); squeezed into {side} it is distorted",
            )
        )
    return found


def _messages(rule: UncertaintyRule, prob_fake: float) -> dict[str, str]:
    low, high = rule.band
    return {
        "near_threshold": f"P(fake) {prob_fake:.2f} lies in the band {low:.2f}-{high:.2f} "
        "where the model is too often wrong",
        "little_detail": "the image is too smooth at 32x32 (blurred, enlarged from a smaller "
        "one, or flat graphics): the traces the detector reads are missing",
        "unfamiliar": "the image is unlike the photos and generated images the model learnt from",
    }


def uncertain_by_reason(
    rule: UncertaintyRule, prob_fake: np.ndarray, distance: np.ndarray, detail: np.ndarray
) -> dict[str, np.ndarray]:
    """Per reason, which 32x32 inputs it marks uncertain (element-wise over a dataset)."""
    low, high = rule.band
    prob_fake = np.asarray(prob_fake)
    return {
        "near_threshold": (prob_fake > low) & (prob_fake < high),
        "little_detail": np.asarray(detail) < rule.min_detail,
        "unfamiliar": np.asarray(distance) > rule.max_distance,
    }


def uncertain_reasons(
    rule: UncertaintyRule | None,
    prob_fake: float,
    distance: float,
    detail: float,
    width: int,
    height: int,
) -> list[Reason]:
    """Every reason one answer is uncertain; none: the model can judge the image."""
    found = geometry_reasons(width, height)
    if rule is None:
        return found
    by_reason = uncertain_by_reason(
        rule, np.array([prob_fake]), np.array([distance]), np.array([detail])
    )
    messages = _messages(rule, prob_fake)
    return found + [Reason(code, messages[code]) for code, mark in by_reason.items() if mark[0]]
