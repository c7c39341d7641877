"""Corruptions that real uploads suffer: does the verdict survive them?

Each corruption maps uint8 images (N, 32, 32, 3) to uint8 images of the same shape; the
evaluate stage scores the detector on each corrupted copy of the test split.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter

from fakeimage.data.images import IMAGE_SIZE

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
    "resize_24_up": resize_down_up(24),
    "blur_r0.8": gaussian_blur(0.8),
    "noise_s8": gaussian_noise(8.0),
}
