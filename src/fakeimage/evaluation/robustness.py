"""Corruptions that real uploads suffer: does the verdict survive them?

Each corruption maps uint8 images (N, 32, 32, 3) to uint8 images of the same shape; the
evaluate stage scores the detector on each corrupted copy of the test split.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from fakeimage.data.dataset import Dataset
from fakeimage.data.images import IMAGE_SIZE, to_model_input
from fakeimage.evaluation.metrics import classification_metrics

Corruption = Callable[[np.ndarray], np.ndarray]


def _per_image(transform: Callable[[Image.Image], Image.Image]) -> Corruption:
    def apply(images: np.ndarray) -> np.ndarray:
        return np.stack([np.asarray(transform(Image.fromarray(image))) for image in images])

    return apply


def jpeg(quality: int) -> Corruption:
    """Re-encode as JPEG (4:2:0) at the given quality, as re-uploads to the web do."""

    def recompress(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, subsampling=2)
        return Image.open(buffer).convert("RGB")

    return _per_image(recompress)


def resize_down_up(size: int = 24) -> Corruption:
    """Shrink to size x size then back to 32 x 32 (bilinear), as thumbnails and previews do."""
    return _per_image(
        lambda image: image.resize((size, size), Image.Resampling.BILINEAR).resize(
            (IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR
        )
    )


def centre_crop(size: int = 28) -> Corruption:
    """Keep the central size x size square, enlarged back to 32 x 32 (bicubic): a tight crop."""
    margin = (IMAGE_SIZE - size) // 2
    box = (margin, margin, margin + size, margin + size)
    return _per_image(
        lambda image: image.crop(box).resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BICUBIC)
    )


def enlarged(size: int = 256) -> Corruption:
    """Enlarged to size x size (bicubic), then shrunk by the service's own preprocessing.

    What a user's upscaled copy of a small image goes through before the model sees it.
    """
    return _per_image(
        lambda image: Image.fromarray(
            to_model_input(image.resize((size, size), Image.Resampling.BICUBIC))
        )
    )


def webp(quality: int = 80) -> Corruption:
    """Re-encode as lossy WebP, as many sites now serve images."""

    def recompress(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", quality=quality)
        return Image.open(buffer).convert("RGB")

    return _per_image(recompress)


def brightness(factor: float = 1.15) -> Corruption:
    return _per_image(lambda image: ImageEnhance.Brightness(image).enhance(factor))


def gaussian_blur(radius: float = 0.8) -> Corruption:
    return _per_image(lambda image: image.filter(ImageFilter.GaussianBlur(radius)))


def gaussian_noise(sigma: float = 8.0, seed: int = 0) -> Corruption:
    """Add N(0, sigma^2) noise in 0..255 units (fixed seed: the same noise every run)."""

    def apply(images: np.ndarray) -> np.ndarray:
        noise = np.random.default_rng(seed).normal(0.0, sigma, images.shape)
        return np.clip(images.astype(np.float64) + noise + 0.5, 0, 255).astype(np.uint8)

    return apply


CORRUPTIONS: dict[str, Corruption] = {
    "jpeg_q95": jpeg(95),
    "jpeg_q75": jpeg(75),
    "jpeg_q50": jpeg(50),
    "jpeg_q30": jpeg(30),
    "webp_q80": webp(80),
    "resize_28_up": resize_down_up(28),
    "resize_24_up": resize_down_up(24),
    "resize_16_up": resize_down_up(16),
    "crop_28": centre_crop(28),
    "enlarged_256": enlarged(256),
    "blur_r0.5": gaussian_blur(0.5),
    "blur_r0.8": gaussian_blur(0.8),
    "blur_r1.2": gaussian_blur(1.2),
    "noise_s8": gaussian_noise(8.0),
    "brightness_1.15": brightness(1.15),
}
"""The sweep: each name says what and how much (quality, side in pixels, radius, sigma)."""


ROBUSTNESS_KEYS = ("accuracy", "f1", "roc_auc", "log_loss")


def robustness_table(
    score: Callable[[np.ndarray], np.ndarray], data: Dataset, threshold: float, bins: int
) -> dict[str, dict[str, float]]:
    """Key metrics on each corrupted copy of the data, at the same threshold."""
    table = {}
    for name, corrupt in CORRUPTIONS.items():
        probabilities = score(corrupt(data.x))
        scores = classification_metrics(data.y, probabilities, threshold, bins)
        table[name] = {key: scores[key] for key in ROBUSTNESS_KEYS}
    return table


def worst_corruption(table: dict[str, dict[str, float]]) -> tuple[str, float]:
    """The corruption the detector is least accurate under, and that accuracy."""
    name = min(table, key=lambda corruption: table[corruption]["accuracy"])
    return name, table[name]["accuracy"]
