"""A compact, fixed summary of the network's features for every logged answer.

The drift report compares the features of recent answers with those of the champion's
validation images. Logging all 200+ features per answer would be heavy; a few whitened
principal axes of the training features keep what a two-sample test needs. The axes come
from the detector's own feature statistics (the shared covariance behind the `unfamiliar`
check, stored as its precision matrix), so the service and the report, in different
processes, project the same way without sharing anything but the model folder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fakeimage.detector.uncertainty import FeatureStats

AXES = 8
"""Principal axes kept per answer: eight numbers, about 80 bytes of JSON."""


@dataclass(frozen=True)
class Summary:
    """Projection of features onto the training features' main axes, in units of their spread."""

    centre: np.ndarray
    """(D,) the mean of the training sources' means."""
    axes: np.ndarray
    """(D, AXES) unit eigenvectors of the shared covariance, largest variance first."""
    scale: np.ndarray
    """(AXES,) the standard deviation along each axis."""

    @classmethod
    def of(cls, stats: FeatureStats, axes: int = AXES) -> Summary:
        """The summary of a detector's feature statistics (a covariance's largest eigenvalues
        are its precision's smallest)."""
        values, vectors = np.linalg.eigh(np.asarray(stats.precision, np.float64))
        keep = np.argsort(values)[:axes]
        variance = 1.0 / np.maximum(values[keep], 1e-12)
        vectors = vectors[:, keep]
        # eigenvectors' signs are arbitrary: fix them so every process projects alike
        vectors = vectors * np.where(
            vectors[np.abs(vectors).argmax(axis=0), range(axes)] < 0, -1, 1
        )
        return cls(stats.means.mean(axis=0), vectors, np.sqrt(variance))

    def project(self, features: np.ndarray) -> np.ndarray:
        """(N, AXES) whitened coordinates of features (N, D)."""
        centred = np.asarray(features, np.float64) - self.centre
        return (centred @ self.axes) / self.scale


def summary_rows(summary: Summary | None, features: np.ndarray) -> np.ndarray:
    """(N, AXES) summaries of features; NaN for a detector without feature statistics."""
    if summary is None:
        return np.full((len(features), AXES), np.nan)
    return summary.project(features)
