"""The traced forward that every consumer scores through."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fakeimage.config import ModelParams
from fakeimage.errors import UserError
from fakeimage.models.keras_detector import Detector, load_keras_model, make_forward
from fakeimage.models.zoo import seed_cnn
from tests.cards import make_card


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return seed_cnn(ModelParams())


def _eager(model, images: np.ndarray) -> np.ndarray:
    return np.asarray(model(images.astype(np.float32), training=False)).reshape(-1)


@pytest.mark.parametrize("flip_tta", [False, True])
def test_traced_forward_matches_the_keras_model(model, flip_tta: bool) -> None:
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    expected = _eager(model, images)
    if flip_tta:
        expected = (expected + _eager(model, images[:, :, ::-1])) / 2
    forward = make_forward(model, flip_tta=flip_tta, chunk=2)  # several chunks
    probabilities, features = forward(images)
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    penultimate = keras.Model(model.input, model.get_layer("prob_fake").input)
    expected_features = np.asarray(penultimate(images.astype(np.float32), training=False))
    if flip_tta:
        mirrored = np.asarray(penultimate(images[:, :, ::-1].astype(np.float32), training=False))
        expected_features = (expected_features + mirrored) / 2
    np.testing.assert_allclose(features, expected_features, rtol=1e-5, atol=1e-5)


def test_forward_handles_empty_and_rejects_wrong_shapes(model) -> None:
    forward = make_forward(model)
    probabilities, features = forward(np.zeros((0, 32, 32, 3), np.uint8))
    assert probabilities.shape == (0,) and features.shape[0] == 0
    with pytest.raises(ValueError, match="32, 32, 3"):
        forward(np.zeros((1, 28, 28, 3), np.uint8))


def test_detector_uses_flip_tta_from_its_card(model) -> None:
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    card = make_card()
    plain = Detector(model, card).predict_proba(images)
    flipping = card.replace(evaluation=card.evaluation.replace(flip_tta=True))
    averaged = Detector(model, flipping).predict_proba(images)
    mirrored = Detector(model, card).predict_proba(images[:, :, ::-1])
    np.testing.assert_allclose(averaged, (plain + mirrored) / 2, atol=1e-6)


def test_missing_weights_say_how_to_get_them_back(tmp_path) -> None:
    with pytest.raises(UserError) as missing:
        load_keras_model(tmp_path / "model.keras")

    assert str(missing.value).startswith(f"{tmp_path / 'model.keras'} is not in this checkout")
    assert "MODEL_CARD.md (Reproduce)" in str(missing.value)
