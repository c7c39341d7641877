"""Grad-CAM: which parts of the 32x32 input drove the verdict (Selvaraju et al., 2017).

Pure functions over a Keras functional model that ends in one sigmoid unit, P(FAKE):
- `find_target_layer`: the last convolutional feature map with spatial extent;
- `gradient_model`: a model answering (that feature map, P(FAKE)) in one pass;
- `heatmap`: gradient of the predicted class's probability (p for FAKE, 1 - p for REAL) w.r.t.
  the feature map, channel weights by global average of the gradient, ReLU of the weighted sum,
  scaled to [0, 1] and resized to the input's 32x32;
- `overlay` / `png_bytes`: the heatmap in a matplotlib colormap over the up-scaled input.

TensorFlow is imported only where gradients are taken, so rendering needs numpy, PIL and
matplotlib alone.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from fakeimage.data.images import IMAGE_SIZE

if TYPE_CHECKING:
    import keras

OVERLAY_SIZE = 256
"""The 32x32 input is shown at 256x256 (nearest neighbour, so pixels stay visible)."""


def _is_conv(layer: keras.layers.Layer) -> bool:
    from keras import layers

    kinds = (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D, layers.Conv2DTranspose)
    return isinstance(layer, kinds)


def _spatial_shape(layer: keras.layers.Layer) -> tuple[int, int] | None:
    """(height, width) of a layer's single rank-4 output, or None."""
    try:
        shape = tuple(layer.output.shape)
    except (AttributeError, ValueError):
        return None
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        return None
    return int(shape[1]), int(shape[2])


def find_target_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer whose output Grad-CAM weighs: the last conv feature map at least 2x2.

    Starts from the last convolution with spatial extent (1x1 squeeze-excite convolutions
    do not count), then follows the layers after it that keep the same spatial shape and are
    not pooling (batch norm, activation, residual add), so a residual net is explained at its
    last block's output and seed_cnn at its last convolution.
    """
    from keras import layers

    model_layers = list(model.layers)
    last_conv = None
    for index, layer in enumerate(model_layers):
        shape = _spatial_shape(layer)
        if _is_conv(layer) and shape is not None and min(shape) > 1:
            last_conv = index
    if last_conv is None:
        raise ValueError(f"{model.name} has no convolution with a spatial output to explain")
    target = model_layers[last_conv]
    wanted = _spatial_shape(target)
    pooling = (layers.MaxPooling2D, layers.AveragePooling2D)
    for layer in model_layers[last_conv + 1 :]:
        if _spatial_shape(layer) == wanted and not isinstance(layer, pooling):
            target = layer
    return target


def gradient_model(model: keras.Model, layer: keras.layers.Layer | None = None) -> keras.Model:
    """A model that maps the input to (the target layer's feature map, P(FAKE))."""
    import keras

    layer = find_target_layer(model) if layer is None else layer
    return keras.Model(model.inputs, [layer.output, model.output], name=f"{model.name}_gradcam")


def heatmap(grad_model: keras.Model, pixels: np.ndarray, *, explain_fake: bool) -> np.ndarray:
    """Grad-CAM for one uint8 image (32, 32, 3): float32 (32, 32) in [0, 1].

    explain_fake=True explains P(FAKE), False explains P(REAL) = 1 - P(FAKE); pass the verdict
    so the map shows the evidence for the predicted class. All zeros when no region raises the
    explained probability (or a saturated sigmoid leaves no gradient).
    """
    import tensorflow as tf

    pixels = np.asarray(pixels)
    if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(f"expected one image of shape (32, 32, 3), got {pixels.shape}")
    inputs = tf.convert_to_tensor(pixels[None].astype(np.float32))
    with tf.GradientTape() as tape:
        features, probability = grad_model(inputs, training=False)
        p_fake = tf.reshape(probability, [-1])[0]
        score = p_fake if explain_fake else 1.0 - p_fake
    gradients = tape.gradient(score, features)
    if gradients is None:
        raise ValueError("the target layer's output does not affect the prediction")
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(features * weights, axis=-1))[0].numpy().astype(np.float32)
    peak = float(cam.max(initial=0.0))
    cam = cam / peak if peak > 0 and np.isfinite(peak) else np.zeros_like(cam)
    resized = Image.fromarray(cam, "F").resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def overlay(
    pixels: np.ndarray,
    heat: np.ndarray,
    *,
    size: int = OVERLAY_SIZE,
    alpha: float = 0.45,
    colormap: str = "jet",
) -> Image.Image:
    """RGB image: the input up-scaled to size x size with the colored heatmap blended on top."""
    import matplotlib

    pixels = np.asarray(pixels, dtype=np.uint8)
    base = Image.fromarray(pixels, "RGB").resize((size, size), Image.Resampling.NEAREST)
    heat = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0.0, 1.0)
    smooth = Image.fromarray(heat, "F").resize((size, size), Image.Resampling.BILINEAR)
    colored = matplotlib.colormaps[colormap](np.clip(np.asarray(smooth), 0.0, 1.0))[..., :3]
    blended = (1.0 - alpha) * (np.asarray(base, dtype=np.float32) / 255.0) + alpha * colored
    return Image.fromarray(np.round(blended * 255.0).astype(np.uint8), "RGB")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
