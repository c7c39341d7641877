"""The tf.data input pipeline: augmentation only moves pixels, shuffling is seeded, nothing lost.

The test images carry their identity in their content: channel 0 is a random texture (so every
shift and mirror is distinguishable), channel 1 holds the image's index and channel 2 its label
(255 = FAKE, 0 = REAL), both constant over the image, which reflection padding, crops and flips
all leave unchanged. So every output image can be traced back to its source and checked exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from fakeimage.config import AugmentParams
from fakeimage.data.dataset import Dataset
from fakeimage.training.pipeline import (
    gather_augmented,
    make_dataset,
    pad_images,
    source_weights,
)

N = 40
BATCH = 16  # 40 = 16 + 16 + 8: the last batch is short


def _dataset(n: int = N, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    labels = (rng.permutation(n) % 2).astype(np.uint8)
    x = np.empty((n, 32, 32, 3), np.uint8)
    x[..., 0] = rng.integers(0, 256, (n, 32, 32), dtype=np.uint8)
    x[..., 1] = np.arange(n, dtype=np.uint8)[:, None, None]
    x[..., 2] = (labels * 255)[:, None, None]
    return Dataset(x, labels)


def _identity(image: np.ndarray) -> int:
    assert np.all(image[..., 1] == image[0, 0, 1])
    return int(image[0, 0, 1])


def _windows(original: np.ndarray, padding: int) -> dict[tuple[int, int, bool], np.ndarray]:
    """Every 32x32 window of the reflect-padded image, plain and mirrored, by (row, col, flip)."""
    padded = pad_images(original[None], padding)[0]
    windows = {}
    for row in range(2 * padding + 1):
        for col in range(2 * padding + 1):
            window = padded[row : row + 32, col : col + 32]
            windows[(row, col, False)] = window
            windows[(row, col, True)] = window[:, ::-1]
    return windows


def _placement(output: np.ndarray, original: np.ndarray, padding: int) -> tuple[int, int, bool]:
    """Where output was cut from original's padded copy; fails unless it is an exact copy."""
    matches = [
        key for key, window in _windows(original, padding).items() if np.array_equal(window, output)
    ]
    assert matches, "an output image is not a shifted/mirrored window of its original"
    return matches[0]


def _epoch(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """One pass: images (as uint8, after checking they are exact integers), labels, batch sizes."""
    images, labels, sizes = [], [], []
    for x, y in dataset:
        assert x.dtype == tf.float32 and y.dtype == tf.float32
        assert tuple(x.shape[1:]) == (32, 32, 3) and x.shape[0] == y.shape[0]
        x = x.numpy()
        assert np.all((x == np.round(x)) & (x >= 0) & (x <= 255))
        images.append(x.astype(np.uint8))
        labels.append(y.numpy())
        sizes.append(len(x))
    return np.concatenate(images), np.concatenate(labels), sizes


def _check_epoch(data: Dataset, dataset: tf.data.Dataset, padding: int, flip: bool) -> list:
    """Each image once, labels follow images, every output an exact window; returns placements."""
    images, labels, sizes = _epoch(dataset)
    assert sizes == [16, 16, 8]
    order = [_identity(image) for image in images]
    assert sorted(order) == list(range(len(data.y)))
    placements = []
    for image, label, index in zip(images, labels, order, strict=True):
        assert label == data.y[index] == image[0, 0, 2] // 255
        placement = _placement(image, data.x[index], padding)
        placements.append(placement)
        if not flip:
            assert placement[2] is False
    return placements


# --- gather_augmented, one batch ----------------------------------------------------------------


@pytest.mark.parametrize(
    "augment",
    [AugmentParams(flip=True, crop_padding=0), AugmentParams(flip=True, crop_padding=3)],
    ids=["flip", "flip+crop3"],
)
def test_gather_augmented_only_copies_pixels(augment: AugmentParams) -> None:
    data = _dataset()
    padded = pad_images(data.x, augment.crop_padding)
    assert padded.shape == (N, 32 + 2 * augment.crop_padding, 32 + 2 * augment.crop_padding, 3)
    index = np.array([5, 0, 39, 17, 5, 22, 8, 31] * 4)
    out = gather_augmented(
        tf.constant(padded.reshape(-1, 3)),
        tf.constant(index),
        padded_size=padded.shape[1],
        augment=augment,
        seed=tf.constant([3, 4], tf.int64),
    ).numpy()
    assert out.dtype == np.uint8 and out.shape == (len(index), 32, 32, 3)
    placements = []
    for image, source in zip(out, index, strict=True):
        original = data.x[source]
        assert _identity(image) == source and image[0, 0, 2] == original[0, 0, 2]
        placements.append(_placement(image, original, augment.crop_padding))
        if augment.crop_padding == 0:
            # A flip is a permutation of the pixels: the multiset of values is unchanged.
            np.testing.assert_array_equal(np.sort(image, axis=None), np.sort(original, axis=None))
            assert np.array_equal(image, original) or np.array_equal(image, original[:, ::-1])
    assert {flipped for _, _, flipped in placements} == {False, True}
    if augment.crop_padding:
        assert len({(row, col) for row, col, _ in placements}) > 3


def test_gather_augmented_is_a_function_of_its_seed() -> None:
    data = _dataset()
    padded = pad_images(data.x, 2)
    kwargs = {"padded_size": padded.shape[1], "augment": AugmentParams(flip=True, crop_padding=2)}
    flat, index = tf.constant(padded.reshape(-1, 3)), tf.range(N)
    first = gather_augmented(flat, index, seed=tf.constant([1, 1], tf.int64), **kwargs).numpy()
    again = gather_augmented(flat, index, seed=tf.constant([1, 1], tf.int64), **kwargs).numpy()
    other = gather_augmented(flat, index, seed=tf.constant([1, 2], tf.int64), **kwargs).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


# --- make_dataset -------------------------------------------------------------------------------


def test_training_with_flip_only_permutes_pixels_and_keeps_labels() -> None:
    data = _dataset()
    augment = AugmentParams(flip=True, crop_padding=0)
    dataset = make_dataset(data, batch_size=BATCH, training=True, augment=augment, seed=1)
    placements = _check_epoch(data, dataset, padding=0, flip=True)
    assert {flipped for _, _, flipped in placements} == {False, True}
    assert {(row, col) for row, col, _ in placements} == {(0, 0)}
    images, _, _ = _epoch(dataset)
    for image in images:
        original = data.x[_identity(image)]
        np.testing.assert_array_equal(np.sort(image, axis=None), np.sort(original, axis=None))
        assert np.array_equal(image, original) or np.array_equal(image, original[:, ::-1])


@pytest.mark.parametrize("flip", [False, True])
def test_training_with_crops_cuts_exact_windows_of_the_reflect_padded_image(flip: bool) -> None:
    data = _dataset()
    augment = AugmentParams(flip=flip, crop_padding=2)
    dataset = make_dataset(data, batch_size=BATCH, training=True, augment=augment, seed=2)
    placements = _check_epoch(data, dataset, padding=2, flip=flip)
    shifts = {(row, col) for row, col, _ in placements}
    assert len(shifts) > 5  # crops really vary (25 possible)
    assert all(0 <= row <= 4 and 0 <= col <= 4 for row, col in shifts)
    assert any(shift != (2, 2) for shift in shifts)
    # The data itself is not modified in place.
    np.testing.assert_array_equal(data.x, _dataset().x)


def test_reflect_padding_repeats_real_pixels() -> None:
    image = np.arange(32 * 32 * 3, dtype=np.int64).reshape(1, 32, 32, 3) % 251
    padded = pad_images(image.astype(np.uint8), 2)[0]
    np.testing.assert_array_equal(padded[2:34, 2:34], image[0])
    np.testing.assert_array_equal(padded[0], padded[4])  # reflection about row 2 (the edge)
    np.testing.assert_array_equal(padded[:, 1], padded[:, 3])
    assert pad_images(image, 0) is image


def test_shuffling_is_seeded_and_reshuffles_each_epoch() -> None:
    data = _dataset()

    def order(seed: int, augment: AugmentParams | None, epoch: int) -> list[int]:
        dataset = make_dataset(
            data,
            batch_size=BATCH,
            training=True,
            augment=augment,
            seed=seed,
            first_epoch=epoch,
            epochs=epoch + 1,
        )
        return [_identity(image) for image in _epoch(dataset)[0]]

    for augment in (None, AugmentParams(flip=True, crop_padding=2)):
        first, second = order(7, augment, 0), order(7, augment, 1)
        assert first != list(range(N))  # shuffled
        assert sorted(second) == list(range(N))  # every image once in the next epoch too
        assert second != first  # a new order each epoch
        assert order(7, augment, 1) == second  # same seed and epoch, same order
        assert order(8, augment, 0) != first  # another seed, another order


def test_epochs_follow_one_another_and_each_depends_only_on_seed_and_epoch() -> None:
    """What resuming relies on: epochs 2.. of a run equal a run started at epoch 2."""
    data = _dataset()
    augment = AugmentParams(flip=True, crop_padding=2)

    def batches(first: int, last: int) -> tuple[np.ndarray, list[int]]:
        dataset = make_dataset(
            data,
            batch_size=BATCH,
            training=True,
            augment=augment,
            seed=3,
            first_epoch=first,
            epochs=last,
        )
        images, _, sizes = _epoch(dataset)
        return images, sizes

    whole, sizes = batches(0, 4)
    assert sizes == [16, 16, 8] * 4
    resumed, _ = batches(2, 4)
    np.testing.assert_array_equal(whole[2 * N :], resumed)
    assert not np.array_equal(whole[:N], whole[N : 2 * N])  # augmentation differs per epoch


def test_augmentation_is_reproducible_for_a_seed() -> None:
    data = _dataset()
    augment = AugmentParams(flip=True, crop_padding=2)

    def epoch(seed: int) -> np.ndarray:
        dataset = make_dataset(data, batch_size=BATCH, training=True, augment=augment, seed=seed)
        return _epoch(dataset)[0]

    np.testing.assert_array_equal(epoch(3), epoch(3))
    assert not np.array_equal(epoch(3), epoch(4))


@pytest.mark.parametrize(
    "augment", [None, AugmentParams(flip=True, crop_padding=4)], ids=["none", "flip+crop4"]
)
def test_validation_pipeline_is_in_order_and_untouched(augment: AugmentParams | None) -> None:
    data = _dataset()
    dataset = make_dataset(data, batch_size=BATCH, training=False, augment=augment, seed=5)
    for _ in range(2):  # the same every pass
        images, labels, sizes = _epoch(dataset)
        assert sizes == [16, 16, 8]
        np.testing.assert_array_equal(images, data.x)
        np.testing.assert_array_equal(labels, data.y.astype(np.float32))


def test_training_without_augmentation_only_shuffles() -> None:
    data = _dataset()
    off = AugmentParams(flip=False, crop_padding=0)
    for augment in (None, off):
        dataset = make_dataset(data, batch_size=BATCH, training=True, augment=augment, seed=9)
        images, labels, _ = _epoch(dataset)
        order = [_identity(image) for image in images]
        assert sorted(order) == list(range(N)) and order != list(range(N))
        np.testing.assert_array_equal(images, data.x[order])
        np.testing.assert_array_equal(labels, data.y[order])


def test_source_weights_make_every_source_weigh_the_same() -> None:
    y = np.array([0] * 6 + [1] * 3 + [1], np.uint8)
    sources = np.array([""] * 9 + ["new"])
    data = Dataset(np.zeros((10, 32, 32, 3), np.uint8), y, sources)
    weights = source_weights(data)
    names = data.source_names()
    totals = {name: weights[names == name].sum() for name in set(names)}
    assert totals == pytest.approx({"REAL": 10 / 3, "FAKE": 10 / 3, "FAKE/new": 10 / 3})
    batches = list(make_dataset(data, batch_size=4, training=False, weights=weights))
    assert len(batches[0]) == 3  # images, labels, weights
    assert np.concatenate([b[2].numpy() for b in batches]) == pytest.approx(weights)
