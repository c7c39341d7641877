"""The Keras side of a detector: its network scored by TensorFlow, for training-side work.

Evaluation, promotion and export load a detector folder (`fakeimage.detector.folder`) into a
`Detector`: the network plus its card and feature statistics. Serving never does: it runs the
folder's ONNX graph (`fakeimage.detector.onnx_runtime`) without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fakeimage.data.images import IMAGE_SIZE
from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import DetectorFolder, is_detector_folder, write_folder
from fakeimage.detector.scoring import CardedDetector
from fakeimage.detector.uncertainty import FeatureStats
from fakeimage.errors import UserError

FEATURE_LAYER = "prob_fake"
"""Every zoo model ends in this Dense unit; its input is the penultimate feature vector."""


@dataclass
class Detector(CardedDetector):
    """A trained Keras model plus its card, which says how to turn its scores into verdicts."""

    model: keras.Model
    card: ModelCard
    stats: FeatureStats | None = None
    _forwards: dict[bool, Forward] = field(default_factory=dict, repr=False)

    def raw_scores(
        self, images: np.ndarray, *, flip_tta: bool | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The network's P(FAKE) and features; flip TTA as the card says by default."""
        if flip_tta is None:
            flip_tta = self.card.flip_tta
        if flip_tta not in self._forwards:
            self._forwards[flip_tta] = make_forward(self.model, flip_tta=flip_tta)
        return self._forwards[flip_tta](images)


Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def with_features(model: keras.Model) -> keras.Model:
    """The same network answering (P(FAKE), penultimate features), weights shared."""
    return keras.Model(model.input, [model.output, model.get_layer(FEATURE_LAYER).input])


def make_forward(model: keras.Model, *, flip_tta: bool = False, chunk: int = 512) -> Forward:
    """A function images -> (P(FAKE), features): the model traced once for any batch size.

    One graph serves every batch size (a fixed signature with an open batch dimension), which
    makes a single image about 0.5 ms instead of about 6 ms through Keras' eager call. With
    flip_tta both are the mean over the image and its mirror.
    """
    spec = tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8)
    network = with_features(model)

    @tf.function(input_signature=[spec])
    def forward(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return traced_scores(network, images, flip_tta)

    concrete = forward.get_concrete_function()  # calling it directly skips retracing checks

    def score(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = np.asarray(images, dtype=np.uint8)
        if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
            raise ValueError(f"expected uint8 images (N, 32, 32, 3), got {images.shape}")
        width = network.outputs[1].shape[-1]
        if len(images) == 0:
            return np.zeros(0, dtype=np.float64), np.zeros((0, width), dtype=np.float64)
        parts = [concrete(tf.constant(images[i : i + chunk])) for i in range(0, len(images), chunk)]
        probabilities = np.concatenate([p.numpy() for p, _ in parts]).astype(np.float64)
        features = np.concatenate([f.numpy() for _, f in parts]).astype(np.float64)
        return probabilities, features

    return score


def traced_scores(
    network: keras.Model, images: tf.Tensor, flip_tta: bool
) -> tuple[tf.Tensor, tf.Tensor]:
    """P(FAKE) (N,) and features (N, D) as float32 tensors: the graph Keras and ONNX share."""
    pixels = tf.cast(images, tf.float32)
    probabilities, features = network(pixels, training=False)
    probabilities = tf.reshape(tf.cast(probabilities, tf.float32), [-1])
    features = tf.cast(features, tf.float32)
    if flip_tta:
        mirrored, mirrored_features = network(tf.reverse(pixels, axis=[2]), training=False)
        probabilities = (probabilities + tf.reshape(tf.cast(mirrored, tf.float32), [-1])) / 2
        features = (features + tf.cast(mirrored_features, tf.float32)) / 2
    return probabilities, features


def predict_proba(model: keras.Model, images: np.ndarray, *, flip_tta: bool = False) -> np.ndarray:
    """P(FAKE) of a bare Keras model (traces it; keep a Detector to score repeatedly)."""
    return make_forward(model, flip_tta=flip_tta)(images)[0]


def load_keras_model(path: Path) -> keras.Model:
    """The network at `path`; a missing file says how to get its weights back."""
    if not path.is_file():  # e.g. models/robust, whose weights are too large for git
        raise UserError(
            f"{path} is not in this checkout: train it with the command in the folder's "
            "MODEL_CARD.md (Reproduce), or copy the file in from where it was trained"
        )
    try:
        return keras.saving.load_model(path, compile=False)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load the model at {path}: {exc}") from None


def load_detector(path: Path) -> Detector:
    """Load a detector folder: its network, card and feature statistics."""
    if not is_detector_folder(path):
        raise UserError(f"no model at {path}: give a model folder (with its card.json)")
    folder = DetectorFolder(path)
    card = folder.card()
    return Detector(load_keras_model(folder.model_file), card, folder.feature_stats(card))


def save_detector(
    target: Path,
    model: keras.Model,
    card: ModelCard,
    record: np.ndarray,
    stats: FeatureStats | None = None,
    onnx: bytes | None = None,
) -> DetectorFolder:
    """Write a detector folder for a Keras network (see `fakeimage.detector.folder`)."""
    return write_folder(target, card, model=model.save, record=record, onnx=onnx, stats=stats)
