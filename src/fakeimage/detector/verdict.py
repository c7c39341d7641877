"""The verdict rule, in one place: FAKE when P(fake) reaches the model's threshold.

Evaluation, export parity, the CLI and the service all call these, so a label can never mean
one thing in a report and another in an answer. Plain NumPy: serving imports it too.
"""

from __future__ import annotations

import numpy as np

from fakeimage.data.layout import CLASS_NAMES


def is_fake(prob_fake: np.ndarray, threshold: float) -> np.ndarray:
    """Element-wise verdicts (True: FAKE) for an array of P(fake)."""
    return np.asarray(prob_fake) >= threshold


def predicted_labels(prob_fake: np.ndarray, threshold: float) -> np.ndarray:
    """Class indices (0 REAL, 1 FAKE, as in `CLASS_NAMES`) for an array of P(fake)."""
    return is_fake(prob_fake, threshold).astype(int)


def verdict(prob_fake: float, threshold: float) -> tuple[str, float]:
    """The label of one image and the probability of that label (its confidence)."""
    fake = bool(is_fake(np.float64(prob_fake), threshold))
    return CLASS_NAMES[int(fake)], prob_fake if fake else 1.0 - prob_fake
