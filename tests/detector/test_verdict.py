"""The verdict rule shared by evaluation, export, the CLI and the service."""

from __future__ import annotations

import numpy as np
import pytest

from fakeimage.detector.verdict import is_fake, predicted_labels, verdict


def test_verdict_uses_the_threshold_and_reports_confidence_of_the_label() -> None:
    assert verdict(0.6, 0.6) == ("FAKE", 0.6)
    label, confidence = verdict(0.59, 0.6)
    assert label == "REAL" and confidence == pytest.approx(0.41)
    assert verdict(0.9, 0.5) == ("FAKE", 0.9)


def test_array_verdicts_agree_with_single_ones() -> None:
    probabilities = np.array([0.0, 0.3, 0.59999, 0.6, 0.61, 1.0])
    labels = predicted_labels(probabilities, 0.6)
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert is_fake(probabilities, 0.6).tolist() == [bool(v) for v in labels]
    for probability, label in zip(probabilities, labels, strict=True):
        assert verdict(float(probability), 0.6)[0] == ("REAL", "FAKE")[label]
