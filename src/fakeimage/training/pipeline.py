"""The tf.data input pipeline: uint8 arrays in memory, augmented on the fly, batch at a time.

The geometric augmentation never resamples pixels. A generator's traces live in exact pixel
values and their neighbours, so rotation, shear and zoom (which interpolate) would blur away
the very signal the detector needs. Horizontal flips and padded crops only move pixels around.
The degradations of `fakeimage.training.degrade` (off by default) do resample, on purpose:
they teach the detector what resized, blurred and re-compressed uploads look like.

Both are done by index arithmetic: the images are padded once (by reflection, so borders
repeat real pixels instead of adding black), and each batch is then a single gather that
picks, shifts and mirrors all its images at once. One small op per batch keeps the pipeline
from competing with the training step for the CPU.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fakeimage.config import AugmentParams
from fakeimage.data.dataset import Dataset
from fakeimage.data.images import IMAGE_SIZE
from fakeimage.training.degrade import degrade_batch, degrades


def pad_images(images: np.ndarray, padding: int) -> np.ndarray:
    """Reflect-pad a stack of images (N, H, W, C) by `padding` pixels on each side."""
    if not padding:
        return images
    return np.pad(images, ((0, 0), (padding, padding), (padding, padding), (0, 0)), "reflect")


def gather_augmented(
    flat_pixels: tf.Tensor,
    index: tf.Tensor,
    *,
    padded_size: int,
    augment: AugmentParams,
    seed: tf.Tensor,
) -> tf.Tensor:
    """Images `index` from reflect-padded pixels, randomly shifted and mirrored: (B, 32, 32, 3).

    flat_pixels is the padded stack reshaped to (N * padded_size**2, 3). Every output pixel
    is a copy of one input pixel: nothing is interpolated.
    """
    batch = tf.shape(index)[0]
    flip_seed, row_seed, col_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    span = padded_size - IMAGE_SIZE + 1
    rows = tf.random.stateless_uniform([batch], row_seed, 0, span, dtype=tf.int64)
    cols = tf.random.stateless_uniform([batch], col_seed, 0, span, dtype=tf.int64)
    offsets = tf.range(IMAGE_SIZE, dtype=tf.int64)
    col_offsets = tf.broadcast_to(offsets, [batch, IMAGE_SIZE])
    if augment.flip:
        mirrored = tf.random.stateless_uniform([batch], flip_seed) < 0.5
        col_offsets = tf.where(mirrored[:, None], IMAGE_SIZE - 1 - offsets, col_offsets)
    row_index = rows[:, None] + offsets  # (B, 32)
    col_index = cols[:, None] + col_offsets  # (B, 32)
    pixel_index = (
        tf.cast(index, tf.int64)[:, None, None] * padded_size * padded_size
        + row_index[:, :, None] * padded_size
        + col_index[:, None, :]
    )
    return tf.gather(flat_pixels, pixel_index)


def source_weights(data: Dataset) -> np.ndarray:
    """Per-image weights under which every source weighs the same in total (mean 1).

    Validation loss under these weights is the mean of the sources' losses, so a new
    generator's few images count as much as an old source's thousands when early stopping
    picks the epoch to keep.
    """
    names = data.source_names()
    _, inverse, counts = np.unique(names, return_inverse=True, return_counts=True)
    return (len(names) / (len(counts) * counts[inverse])).astype(np.float32)


def make_dataset(
    data: Dataset,
    *,
    batch_size: int,
    training: bool,
    augment: AugmentParams | None = None,
    seed: int = 0,
    first_epoch: int = 0,
    epochs: int = 1,
    weights: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Batches of (float32 images 0..255, float32 labels); shuffled and augmented if training.

    Training: the batches of epochs first_epoch .. epochs - 1, one epoch after the other.
    Each epoch's order and augmentation depend on (seed, epoch) alone, so a run resumed at
    epoch k sees exactly the batches an uninterrupted run sees from epoch k on. Validation:
    every image once, in order, with its weight if `weights` are given (see
    `source_weights`). Indices are shuffled, not images, so a batch is one gather from arrays
    held in memory; the model itself scales pixels to [0, 1].
    """
    labels = tf.constant(data.y)
    if not training:
        images = tf.constant(data.x)
        dataset = tf.data.Dataset.range(len(data.y)).batch(batch_size)
        weighed = None if weights is None else tf.constant(weights, tf.float32)

        def batch(index: tf.Tensor) -> tuple[tf.Tensor, ...]:
            pair = (
                tf.cast(tf.gather(images, index), tf.float32),
                tf.cast(tf.gather(labels, index), tf.float32),
            )
            return pair if weighed is None else (*pair, tf.gather(weighed, index))

        dataset = dataset.map(batch, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.prefetch(tf.data.AUTOTUNE)

    count = len(data.y)
    steps = steps_per_epoch(data, batch_size)
    base = tf.constant(seed, tf.int64)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        order = tf.argsort(tf.random.stateless_uniform([count], tf.stack([base, epoch])))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        # one stateless seed per batch, numbered across epochs: reproducible augmentation
        seeds = tf.data.Dataset.range(steps).map(
            lambda step: tf.stack([base, epoch * steps + step])
        )
        return tf.data.Dataset.zip((batches, seeds))

    dataset = tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
    moves = augment is not None and (augment.flip or augment.crop_padding or degrades(augment))
    if not moves:
        images = tf.constant(data.x)

        def load(index: tf.Tensor, _: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            return (
                tf.cast(tf.gather(images, index), tf.float32),
                tf.cast(tf.gather(labels, index), tf.float32),
            )

    else:
        assert augment is not None
        padded = pad_images(data.x, augment.crop_padding)
        flat = tf.constant(padded.reshape(-1, 3))
        size = padded.shape[1]

        def load(index: tf.Tensor, batch_seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            images = gather_augmented(
                flat, index, padded_size=size, augment=augment, seed=batch_seed
            )
            images = tf.cast(images, tf.float32)
            if degrades(augment):
                degrade_seed = tf.random.experimental.stateless_fold_in(batch_seed, 1)
                images = degrade_batch(images, augment, degrade_seed)
            return images, tf.cast(tf.gather(labels, index), tf.float32)

    return dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(data: Dataset, batch_size: int) -> int:
    """Batches in one training epoch (the last one may be short)."""
    return -(-len(data.y) // batch_size)
