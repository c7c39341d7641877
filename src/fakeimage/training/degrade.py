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
    """Each image of a (B, 32, 32, 3) float32 batch, degraded by its own random draw."""
    seeds = tf.random.experimental.stateless_split(seed, tf.shape(images)[0])
    return tf.map_fn(
        lambda pair: degrade_image(pair[0], augment, pair[1]),
        (images, seeds),
        fn_output_signature=tf.TensorSpec((IMAGE_SIZE, IMAGE_SIZE, 3), tf.float32),
    )


def degrade_image(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """One image through crop, resize, blur, colour, noise and JPEG, each with its probability.

    The order follows an image's life: cropped, scaled for display, softened, edited, then
    re-encoded for upload.
    """
    steps = [
        (augment.crop.p, lambda x, s: _crop_resize(x, augment, s)),
        (augment.resize.p, lambda x, s: _down_up(x, augment, s)),
        (augment.blur.p, lambda x, s: _blur(x, augment, s)),
        (augment.color.p, lambda x, s: _color(x, augment, s)),
        (augment.noise.p, lambda x, s: _noise(x, augment, s)),
        (augment.jpeg.p, lambda x, s: _jpeg(x, augment, s)),
    ]
    step_seeds = tf.random.experimental.stateless_split(seed, 2 * len(steps))
    for index, (probability, apply) in enumerate(steps):
        if probability <= 0:
            continue
        chosen = tf.random.stateless_uniform([], step_seeds[2 * index]) < probability
        draw = step_seeds[2 * index + 1]
        image = tf.cond(chosen, lambda x=image, f=apply, s=draw: f(x, s), lambda x=image: x)
    return tf.round(tf.clip_by_value(image, 0.0, 255.0))


def _uniform(seed: tf.Tensor, bounds: tuple[float, float]) -> tf.Tensor:
    return tf.random.stateless_uniform([], seed, bounds[0], bounds[1])


def _crop_resize(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """A random square of `fraction` of the side, scaled back up to 32x32 (bilinear)."""
    size_seed, offset_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    fraction = _uniform(size_seed, augment.crop.fraction)
    side = tf.cast(tf.round(fraction * IMAGE_SIZE), tf.int32)
    crop = tf.image.stateless_random_crop(image, tf.stack([side, side, 3]), offset_seed)
    return tf.image.resize(crop, (IMAGE_SIZE, IMAGE_SIZE), "bilinear")


def _down_up(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Shrunk by `scale` with one of `filters`, then enlarged back with the same filter."""
    scale_seed, filter_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    side = tf.cast(tf.round(_uniform(scale_seed, augment.resize.scale) * IMAGE_SIZE), tf.int32)
    side = tf.maximum(side, 4)
    filters = augment.resize.filters
    chosen = tf.random.stateless_uniform([], filter_seed, 0, len(filters), dtype=tf.int32)

    def resample(method: str) -> tf.Tensor:
        small = tf.image.resize(image, tf.stack([side, side]), method, antialias=True)
        return tf.image.resize(small, (IMAGE_SIZE, IMAGE_SIZE), method)

    branches = [lambda method=method: resample(method) for method in filters]
    return tf.switch_case(chosen, branches)


def _blur(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Gaussian blur whose standard deviation is the radius (as Pillow's GaussianBlur)."""
    sigma = _uniform(seed, augment.blur.radius)
    taps = tf.range(-_BLUR_TAPS, _BLUR_TAPS + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / sigma))
    kernel /= tf.reduce_sum(kernel)
    padded = tf.pad(image[None], [[0, 0], [_BLUR_TAPS] * 2, [_BLUR_TAPS] * 2, [0, 0]], "REFLECT")
    rows = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, 3, 1])
    cols = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, 3, 1])
    blurred = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    blurred = tf.nn.depthwise_conv2d(blurred, cols, [1, 1, 1, 1], "VALID")
    return blurred[0]


def _color(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Brightness times 1 +/- `brightness`, contrast around the mean times 1 +/- `contrast`."""
    bright_seed, contrast_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    brightness, contrast = augment.color.brightness, augment.color.contrast
    image = image * _uniform(bright_seed, (1 - brightness, 1 + brightness))
    mean = tf.reduce_mean(image)
    return mean + (image - mean) * _uniform(contrast_seed, (1 - contrast, 1 + contrast))


def _noise(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Gaussian noise whose standard deviation (in 0..255 levels) is drawn from `sigma`."""
    sigma_seed, noise_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    sigma = _uniform(sigma_seed, augment.noise.sigma)
    return image + sigma * tf.random.stateless_normal(tf.shape(image), noise_seed)


def _jpeg(image: tf.Tensor, augment: AugmentParams, seed: tf.Tensor) -> tf.Tensor:
    """Re-encoded as JPEG at a quality drawn from `quality` (whole numbers, both included)."""
    low, high = augment.jpeg.quality
    quality = tf.random.stateless_uniform([], seed, low, high + 1, dtype=tf.int32)
    pixels = tf.cast(tf.round(tf.clip_by_value(image, 0.0, 255.0)), tf.uint8)
    return tf.cast(tf.image.adjust_jpeg_quality(pixels, quality), tf.float32)
