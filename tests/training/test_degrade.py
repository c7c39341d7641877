"""Degradation augmentation: what each does, that it is seeded, and that labels stay put."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageFilter

from fakeimage.config import (
    AugmentParams,
    BlurParams,
    ColorParams,
    CropParams,
    JpegParams,
    NoiseParams,
    ResizeParams,
)
from fakeimage.data.dataset import Dataset
from fakeimage.training.degrade import degrade_batch, degrade_image, degrades, down_up_matrices
from fakeimage.training.pipeline import make_dataset

SEED = tf.constant([7, 11], tf.int64)
ALL_ON = AugmentParams(
    flip=False,
    crop_padding=0,
    jpeg=JpegParams(p=0.5, quality=(30, 90)),
    resize=ResizeParams(p=0.5),
    blur=BlurParams(p=0.5),
    noise=NoiseParams(p=0.5),
    crop=CropParams(p=0.5),
    color=ColorParams(p=0.5),
)


def _smooth_image(seed: int = 0) -> np.ndarray:
    """A photo-like 32x32 image: smooth gradients plus a little texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:32, 0:32] / 31.0
    base = np.stack([x * 200 + 30, y * 180 + 40, (x + y) * 90 + 20], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).round().astype(np.float32)


def _only(**step: object) -> AugmentParams:
    return AugmentParams(flip=False, crop_padding=0, **step)


def _apply(augment: AugmentParams, image: np.ndarray, seed: tf.Tensor = SEED) -> np.ndarray:
    return degrade_image(tf.constant(image), augment, seed).numpy()


def test_off_by_default_and_on_when_any_probability_is_set() -> None:
    assert not degrades(AugmentParams())
    assert degrades(_only(blur=BlurParams(p=0.1)))


def test_a_degradation_with_probability_one_always_changes_the_image() -> None:
    image = _smooth_image()
    for step in (
        {"jpeg": JpegParams(p=1.0, quality=(30, 30))},
        {"resize": ResizeParams(p=1.0, scale=(0.5, 0.5))},
        {"blur": BlurParams(p=1.0, radius=(1.0, 1.0))},
        {"noise": NoiseParams(p=1.0, sigma=(8.0, 8.0))},
        {"crop": CropParams(p=1.0, fraction=(0.75, 0.75))},
        {"color": ColorParams(p=1.0, brightness=0.3, contrast=0.3)},
    ):
        out = _apply(_only(**step), image)
        assert out.shape == (32, 32, 3) and out.dtype == np.float32
        assert np.all(out == np.round(out)) and out.min() >= 0 and out.max() <= 255
        assert np.abs(out - image).mean() > 0.5, step


def test_blur_matches_pillows_gaussian_blur() -> None:
    image = _smooth_image()
    ours = _apply(_only(blur=BlurParams(p=1.0, radius=(1.0, 1.0))), image)
    pillow = Image.fromarray(image.astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0))
    # the same smoothing up to rounding and border handling
    inner = (slice(4, -4), slice(4, -4))
    assert np.abs(ours[inner] - np.asarray(pillow, np.float32)[inner]).mean() < 1.5


def test_jpeg_matches_pillows_re_encoding() -> None:
    image = _smooth_image()
    ours = _apply(_only(jpeg=JpegParams(p=1.0, quality=(40, 40))), image)
    buffer = io.BytesIO()
    Image.fromarray(image.astype(np.uint8)).save(buffer, "JPEG", quality=40)
    pillow = np.asarray(Image.open(buffer).convert("RGB"), np.float32)
    assert np.abs(ours - pillow).mean() < 2.0


def test_probability_zero_leaves_images_untouched() -> None:
    image = _smooth_image()
    off = _only(jpeg=JpegParams(p=0.0), blur=BlurParams(p=0.0), noise=NoiseParams(p=1e-9))
    np.testing.assert_array_equal(_apply(off, image), image)


def test_degradation_is_a_function_of_its_seed() -> None:
    batch = tf.constant(np.stack([_smooth_image(i) for i in range(8)]))
    first = degrade_batch(batch, ALL_ON, SEED).numpy()
    np.testing.assert_array_equal(first, degrade_batch(batch, ALL_ON, SEED).numpy())
    other = degrade_batch(batch, ALL_ON, tf.constant([7, 12], tf.int64)).numpy()
    assert not np.array_equal(first, other)
    # each image draws its own degradations: not all changed the same way
    changes = np.abs(first - batch.numpy()).mean(axis=(1, 2, 3))
    assert len(set(np.round(changes, 3))) > 1


def test_training_pipeline_degrades_reproducibly_and_keeps_labels() -> None:
    rng = np.random.default_rng(0)
    images = np.stack([_smooth_image(i).astype(np.uint8) for i in range(24)])
    labels = (rng.permutation(24) % 2).astype(np.uint8)
    images[..., 2] = (labels * 255)[:, None, None]  # the label, written into the blue channel
    data = Dataset(images, labels)
    color_free = AugmentParams(
        flip=True,
        crop_padding=2,
        jpeg=JpegParams(p=0.5, quality=(70, 95)),
        blur=BlurParams(p=0.5, radius=(0.3, 0.6)),
        noise=NoiseParams(p=0.5, sigma=(1.0, 3.0)),
    )

    def epoch(seed: int) -> tuple[np.ndarray, np.ndarray]:
        dataset = make_dataset(data, batch_size=8, training=True, augment=color_free, seed=seed)
        pairs = [(x.numpy(), y.numpy()) for x, y in dataset]
        return np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])

    x, y = epoch(3)
    x_again, y_again = epoch(3)
    np.testing.assert_array_equal(x, x_again)
    np.testing.assert_array_equal(y, y_again)
    assert sorted(y.tolist()) == sorted(labels.astype(np.float32).tolist())
    # mild degradations keep the blue channel on the side of its label
    np.testing.assert_array_equal(x[..., 2].mean(axis=(1, 2)) > 127, y == 1)
    assert not np.array_equal(x, epoch(4)[0])


@pytest.mark.parametrize("bounds", [(0.5, 0.5), (0.125, 0.25)])
def test_resize_keeps_the_size_whatever_the_scale(bounds: tuple[float, float]) -> None:
    for method in ("bilinear", "bicubic", "area", "lanczos3"):
        augment = _only(resize=ResizeParams(p=1.0, scale=bounds, filters=(method,)))
        assert _apply(augment, _smooth_image()).shape == (32, 32, 3)


@pytest.mark.parametrize("method", ["bilinear", "bicubic", "area", "lanczos3"])
def test_down_up_matrices_equal_resizing_the_image_down_and_up(method: str) -> None:
    images = tf.constant(np.stack([_smooth_image(i) for i in range(3)]))
    for side in (13, 20, 28):
        matrix = down_up_matrices(method, side, side)[0]
        ours = tf.einsum("ij,bjlc,kl->bikc", matrix, images, matrix)
        small = tf.image.resize(images, (side, side), method, antialias=True)
        direct = tf.image.resize(small, (32, 32), method)
        np.testing.assert_allclose(ours.numpy(), direct.numpy(), atol=1e-3)
