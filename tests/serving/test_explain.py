"""Occlusion sensitivity: the map finds the region a scorer looks at, and renders as PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fakeimage.serving import explain

RNG = np.random.default_rng(0)
PIXELS = RNG.integers(0, 256, (32, 32, 3), dtype=np.uint8)


def _looks_at_top_left(images: np.ndarray) -> np.ndarray:
    """P(FAKE) rises with the brightness of the top-left 8x8 corner only."""
    return images[:, :8, :8].mean(axis=(1, 2, 3)) / 255.0


def test_copies_cover_each_patch_with_the_mean_colour() -> None:
    copies = explain.occluded_copies(PIXELS)
    per_axis = (32 - explain.OCCLUSION_PATCH) // explain.OCCLUSION_STRIDE + 1
    assert copies.shape == (per_axis**2, 32, 32, 3) and copies.dtype == np.uint8
    fill = np.round(PIXELS.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    assert (copies[0, :8, :8] == fill).all() and (copies[0, 8:, 8:] == PIXELS[8:, 8:]).all()
    assert (copies[-1, -8:, -8:] == fill).all()
    with pytest.raises(ValueError, match="32, 32, 3"):
        explain.occluded_copies(PIXELS[:16])


def test_the_heat_is_where_the_scorer_looks() -> None:
    bright = PIXELS.copy()
    bright[:8, :8] = 255  # occluding the corner lowers P(FAKE)
    prob_fake, heat = explain.occlusion(_looks_at_top_left, bright, threshold=0.5)
    assert prob_fake == pytest.approx(_looks_at_top_left(bright[None])[0])  # FAKE: explained
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert heat.max() == pytest.approx(1.0) and heat.min() >= 0
    assert heat[:8, :8].mean() > 5 * heat[16:, 16:].mean()
    assert heat[16:, 16:].max() == 0  # patches that miss the corner change nothing


def test_a_real_verdict_is_explained_by_what_raises_p_fake_when_hidden() -> None:
    dark = PIXELS.copy()
    dark[:8, :8] = 0  # occluding the corner raises P(FAKE): evidence for REAL
    prob_fake, heat = explain.occlusion(_looks_at_top_left, dark, threshold=0.5)
    assert prob_fake < 0.5 and heat[:8, :8].mean() > 0.3
    # judged FAKE (threshold 0: everything is), the same image has no evidence for that verdict
    assert explain.occlusion(_looks_at_top_left, dark, threshold=0.0)[1].max() == 0


def test_one_batch_for_the_image_and_all_its_copies() -> None:
    calls: list[int] = []

    def counting(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        return _looks_at_top_left(images)

    explain.occlusion(counting, PIXELS, threshold=0.5)
    assert calls == [1 + len(explain.occluded_copies(PIXELS))]


def test_overlay_is_a_256_png() -> None:
    _, heat = explain.occlusion(_looks_at_top_left, PIXELS, threshold=0.5)
    png = explain.png_bytes(explain.overlay(PIXELS, heat))
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (256, 256) and image.mode == "RGB"
