"""The quality check tells blur and mush from photographs, and cannot tell like from like."""

from __future__ import annotations

import numpy as np
import pytest

from fakeimage.generators.quality import FEATURES, quality_features, separability


def _textured(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, (n, 1, 1, 3))
    return np.clip(base + rng.normal(0, 30, (n, 32, 32, 3)), 0, 255).astype(np.uint8)


def _blurred(images: np.ndarray) -> np.ndarray:
    """Each 4x4 block flattened to its mean: the detail a weak generator lacks."""
    blocks = images.reshape(-1, 8, 4, 8, 4, 3).mean(axis=(2, 4), keepdims=True)
    return np.broadcast_to(blocks, (len(images), 8, 4, 8, 4, 3)).reshape(images.shape)


@pytest.mark.timeout(60)
def test_blurred_images_are_told_apart_and_like_ones_are_not() -> None:
    real = _textured(200, 0)
    blurred = separability(_blurred(_textured(200, 1)).astype(np.uint8), real)
    alike = separability(_textured(200, 2), real)
    assert blurred is not None and alike is not None
    assert blurred.roc_auc > 0.95 and blurred.features["detail"] > 0.95
    assert 0.35 < alike.roc_auc < 0.65
    assert set(alike.features) == set(FEATURES) and alike.images == 200
    assert set(alike.as_dict()) == {"roc_auc", "features", "images"}


@pytest.mark.timeout(30)
def test_features_per_image_and_too_few_images() -> None:
    features = quality_features(_textured(7, 0))
    assert features.shape == (7, len(FEATURES)) and np.isfinite(features).all()
    flat = quality_features(np.zeros((2, 32, 32, 3), np.uint8))
    np.testing.assert_array_equal(flat, 0)
    assert separability(_textured(4, 0), _textured(50, 1)) is None
