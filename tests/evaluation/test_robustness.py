"""Corruptions: same shape and dtype, really change the images, the same every time."""

from __future__ import annotations

import numpy as np
import pytest

from fakeimage.evaluation.robustness import (
    CORRUPTIONS,
    gaussian_noise,
    jpeg,
    resize_down_up,
)


def _textured(n: int = 6, seed: int = 0) -> np.ndarray:
    """Smooth-ish random images: a gradient plus noise, like photographs more than static."""
    rng = np.random.default_rng(seed)
    rows, cols = np.linspace(0, 160, 32), np.linspace(0, 60, 32)
    ramp = rows[None, :, None, None] + cols[None, None, :, None]
    noise = rng.normal(0, 30, (n, 32, 32, 3))
    return np.clip(ramp + noise + rng.integers(0, 40, (n, 1, 1, 3)), 0, 255).astype(np.uint8)


def test_the_evaluated_corruptions() -> None:
    assert set(CORRUPTIONS) == {
        "jpeg_q95",
        "jpeg_q75",
        "jpeg_q50",
        "jpeg_q30",
        "webp_q80",
        "resize_28_up",
        "resize_24_up",
        "resize_16_up",
        "crop_28",
        "enlarged_256",
        "blur_r0.5",
        "blur_r0.8",
        "blur_r1.2",
        "noise_s8",
        "brightness_1.15",
    }


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_keeps_shape_and_dtype_and_changes_the_images(name: str) -> None:
    images = _textured()
    before = images.copy()
    corrupted = CORRUPTIONS[name](images)
    assert corrupted.shape == images.shape
    assert corrupted.dtype == np.uint8
    np.testing.assert_array_equal(images, before)  # the input is not modified
    for original, changed in zip(images, corrupted, strict=True):
        assert not np.array_equal(original, changed)
    # A corruption is mild: the image stays recognisably the same.
    difference = np.abs(corrupted.astype(int) - images.astype(int)).mean()
    assert 0 < difference < 40


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_is_deterministic(name: str) -> None:
    images = _textured(seed=1)
    np.testing.assert_array_equal(CORRUPTIONS[name](images), CORRUPTIONS[name](images))


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corruption_of_one_image_and_of_flat_images(name: str) -> None:
    flat = np.full((2, 32, 32, 3), 128, np.uint8)
    corrupted = CORRUPTIONS[name](flat)
    assert corrupted.shape == flat.shape and corrupted.dtype == np.uint8
    if name == "brightness_1.15":  # a point operation moves every level alike
        assert np.abs(corrupted.astype(int) - round(128 * 1.15)).max() <= 1
    elif name != "noise_s8":  # filters, resampling and codecs leave a flat grey (almost) alone
        assert np.abs(corrupted.astype(int) - 128).max() <= 2
    single = CORRUPTIONS[name](_textured(1))
    assert single.shape == (1, 32, 32, 3)


def test_stronger_jpeg_changes_more() -> None:
    images = _textured(seed=2)

    def error(quality: int) -> float:
        return float(np.abs(jpeg(quality)(images).astype(int) - images.astype(int)).mean())

    assert error(95) < error(75) < error(50)


def test_resize_down_up_loses_detail() -> None:
    images = _textured(seed=3)
    assert resize_down_up(16)(images).std() < images.std()


def test_gaussian_noise_has_the_stated_size_and_seed() -> None:
    images = np.full((8, 32, 32, 3), 128, np.uint8)
    noisy = gaussian_noise(8.0, seed=0)(images).astype(float) - 128
    assert abs(noisy.mean()) < 0.5
    assert noisy.std() == pytest.approx(8.0, rel=0.05)
    other = gaussian_noise(8.0, seed=1)(images)
    assert not np.array_equal(gaussian_noise(8.0, seed=0)(images), other)
    clipped = gaussian_noise(50.0)(np.zeros((1, 32, 32, 3), np.uint8))
    assert clipped.min() == 0 and clipped.max() <= 255


def test_stronger_blur_and_smaller_thumbnails_lose_more_detail() -> None:
    images = _textured(seed=4)
    blurs = [CORRUPTIONS[f"blur_r{r}"](images).std() for r in ("0.5", "0.8", "1.2")]
    assert blurs[0] > blurs[1] > blurs[2]
    sizes = [CORRUPTIONS[f"resize_{s}_up"](images).std() for s in (28, 24, 16)]
    assert sizes[0] > sizes[1] > sizes[2]


def test_an_enlarged_copy_comes_back_close_to_the_original() -> None:
    """Enlarging then letting the service shrink it is mild: far milder than a thumbnail."""
    images = _textured(seed=5)

    def change(name: str) -> float:
        return float(np.abs(CORRUPTIONS[name](images).astype(int) - images.astype(int)).mean())

    assert change("enlarged_256") < change("resize_16_up")
