"""Degradations that real uploads suffer, drawn at random for each training image.

Resizing, blur, re-compression, noise, cropping and colour shifts wipe out much of the
pixel-level evidence a CIFAKE detector learns from; a model that never saw them flips its
verdict when a user's image went through one (Wang et al., CNNDetection, trains with blur and
JPEG for the same reason). Each degradation has its own probability and range in
`train.augment`; all are off by default, so flips and padded crops stay the only change.

Everything is a stateless TensorFlow op driven by a per-image seed, so a batch degrades the
same way on every run with the same `train.seed`. Images are float32 in 0..255 in and out,
rounded to whole levels, as a decoded upload would be.
"""

from __future__ import annotations

import tensorflow as tf

from fakeimage.config import AugmentParams
from fakeimage.data.images import IMAGE_SIZE

_BLUR_TAPS = 4
"""The blur kernel reaches 4 pixels each way: 3 sigma for radii up to 1.33 px."""


def degrades(augment: AugmentParams) -> bool:
    """Whether any degradation is on."""
    return any(
        step.p > 0
        for step in (
            augment.crop,
            augment.resize,
            augment.blur,
            augment.color,
            augment.noise,
            augment.jpeg,
        )
    )


def degrade_batch(images: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """A (B, 32, 32, 3) float32 batch, each image degraded by its own random draw.

    Every step runs on the whole batch at once (one op per step, not one per image; JPEG,
    which TensorFlow encodes one image at a time, only on the images that drew it), then
    keeps the result for the images whose draw chose that step. The order follows an image's
    life: cropped, scaled for display, softened, edited, then re-encoded for upload.
    """
    steps = [
        (augment.crop.p, _crop_resize),
        (augment.resize.p, _down_up),
        (augment.blur.p, _blur),
        (augment.color.p, _color),
        (augment.noise.p, _noise),
    ]
    count = tf.shape(images)[0]
    step_seeds = tf.random.experimental.stateless_split(seed, 2 * (len(steps) + 1))
    for index, (probability, apply) in enumerate(steps):
        if probability <= 0:
            continue
        chosen = tf.random.stateless_uniform([count], step_seeds[2 * index]) < probability
        changed = apply(images, augment, step_seeds[2 * index + 1])
        images = tf.where(chosen[:, None, None, None], changed, images)
    images = tf.round(tf.clip_by_value(images, 0.0, 255.0))
    if augment.jpeg.p > 0:
        chosen = tf.random.stateless_uniform([count], step_seeds[-2]) < augment.jpeg.p
        images = _jpeg(images, chosen, augment, step_seeds[-1])
    return images


def degrade_image(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """One (32, 32, 3) image through `degrade_batch`."""
    return degrade_batch(image[None], augment, seed)[0]


def _uniform(seed: tf.Tensor, count: tf.Tensor, bounds: tuple[float, float]) -> tf.Tensor:
    return tf.random.stateless_uniform([count], seed, bounds[0], bounds[1])


def _crop_resize(images: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """A random square of `fraction` of the side, scaled back up to 32x32 (bilinear)."""
    count = tf.shape(images)[0]
    size_seed, row_seed, col_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    fraction = _uniform(size_seed, count, augment.crop.fraction)
    top = tf.random.stateless_uniform([count], row_seed) * (1 - fraction)
    left = tf.random.stateless_uniform([count], col_seed) * (1 - fraction)
    boxes = tf.stack([top, left, top + fraction, left + fraction], axis=1)
    return tf.image.crop_and_resize(
        images, boxes, tf.range(count), (IMAGE_SIZE, IMAGE_SIZE), "bilinear"
    )


def _down_up(images: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Shrunk by `scale` (a side per image), then enlarged back, with one of `filters` per batch.

    Resizing is separable and linear, so shrinking to s x s and enlarging back is one 32x32
    matrix M_s applied to rows and columns: M_s X M_s^T. The matrices of every side the scale
    range allows come from resizing the identity once per batch; each image then gets its own
    side in a single batched product, instead of a resize of the whole batch per side.
    """
    count = tf.shape(images)[0]
    scale_seed, filter_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    low, high = (max(4, round(bound * IMAGE_SIZE)) for bound in augment.resize.scale)
    drawn = _uniform(scale_seed, count, augment.resize.scale) * IMAGE_SIZE
    sides = tf.clip_by_value(tf.cast(tf.round(drawn), tf.int32), low, high)
    filters = augment.resize.filters
    chosen = tf.random.stateless_uniform([], filter_seed, 0, len(filters), dtype=tf.int32)
    tables = [lambda method=method: down_up_matrices(method, low, high) for method in filters]
    table = tf.switch_case(chosen, tables)  # (sides, 32, 32)
    matrices = tf.gather(table, sides - low)  # (B, 32, 32)
    return tf.einsum("bij,bjlc,bkl->bikc", matrices, images, matrices)


def down_up_matrices(method: str, low: int, high: int) -> tf.Tensor:
    """(high - low + 1, 32, 32): for each side s, the operator of shrinking to s and back."""
    basis = tf.eye(IMAGE_SIZE)[None, :, :, None]  # column j is the unit vector e_j
    operators = []
    for side in range(low, high + 1):
        small = tf.image.resize(basis, (side, IMAGE_SIZE), method, antialias=True)
        back = tf.image.resize(small, (IMAGE_SIZE, IMAGE_SIZE), method)
        operators.append(back[0, :, :, 0])
    return tf.stack(operators)


def _blur(images: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Gaussian blur whose standard deviation is the radius (as Pillow's GaussianBlur).

    Each image has its own kernel: the batch's channels are laid side by side as the
    channels of one image, so one depthwise convolution applies every kernel.
    """
    count = tf.shape(images)[0]
    sigma = _uniform(seed, count, augment.blur.radius)
    taps = tf.range(-_BLUR_TAPS, _BLUR_TAPS + 1, dtype=tf.float32)
    kernels = tf.exp(-0.5 * tf.square(taps[None, :] / sigma[:, None]))
    kernels /= tf.reduce_sum(kernels, axis=1, keepdims=True)  # (B, taps)
    per_channel = tf.repeat(kernels, 3, axis=0)  # (B * 3, taps): image-major like the channels
    side_by_side = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [1, IMAGE_SIZE, IMAGE_SIZE, -1])
    padded = tf.pad(side_by_side, [[0, 0], [_BLUR_TAPS] * 2, [_BLUR_TAPS] * 2, [0, 0]], "REFLECT")
    rows = tf.transpose(per_channel)[:, None, :, None]  # (taps, 1, B * 3, 1)
    cols = tf.transpose(per_channel)[None, :, :, None]  # (1, taps, B * 3, 1)
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    blurred = tf.nn.depthwise_conv2d(blurred, cols, [1, 1, 1, 1], "VALID")
    return tf.transpose(tf.reshape(blurred, [IMAGE_SIZE, IMAGE_SIZE, count, 3]), [2, 0, 1, 3])


def _color(images: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Brightness times 1 +/- `brightness`, contrast around the mean times 1 +/- `contrast`."""
    count = tf.shape(images)[0]
    bright_seed, contrast_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    brightness, contrast = augment.color.brightness, augment.color.contrast
    gain = _uniform(bright_seed, count, (1 - brightness, 1 + brightness))[:, None, None, None]
    spread = _uniform(contrast_seed, count, (1 - contrast, 1 + contrast))[:, None, None, None]
    images = images * gain
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return mean + (images - mean) * spread


def _noise(images: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Gaussian noise whose standard deviation (in 0..255 levels) is drawn from `sigma`."""
    count = tf.shape(images)[0]
    sigma_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    sigma = _uniform(sigma_seed, count, augment.noise.sigma)[:, None, None, None]
    return images + sigma * tf.random.stateless_normal(tf.shape(images), noise_seed)


def _jpeg(
    images: tf.Tensor, chosen: tf.Tensor, augment: AugmentParams, seed: tf.Tensor
) -> tf.Tensor:
    """The chosen images re-encoded as JPEG, each at a quality drawn from `quality`."""
    low, high = augment.jpeg.quality
    qualities = tf.random.stateless_uniform(tf.shape(chosen), seed, low, high + 1, dtype=tf.int32)
    where = tf.where(chosen)
    pixels = tf.cast(tf.gather_nd(images, where), tf.uint8)
    encoded = tf.map_fn(
        lambda pair: tf.image.adjust_jpeg_quality(pair[0], pair[1]),
        (pixels, tf.gather_nd(qualities, where)),
        fn_output_signature=tf.TensorSpec((IMAGE_SIZE, IMAGE_SIZE, 3), tf.uint8),
    )
    return tf.tensor_scatter_nd_update(images, where, tf.cast(encoded, tf.float32))
