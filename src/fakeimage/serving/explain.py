"""Which parts of the 32x32 input drove the verdict: occlusion sensitivity, then a PNG overlay.

Each square patch (OCCLUSION_PATCH pixels, every OCCLUSION_STRIDE pixels) is covered in turn
with the image's mean colour, and all the covered copies are scored in one batch through the
same scoring function as the verdict (ONNX Runtime in the service). A pixel's heat is the mean
drop in the predicted class's probability over the patches that cover it: where hiding the
image lowers the confidence most, the evidence was. At pixel resolution, unlike a Grad-CAM map
of a 4x4 feature map, it shows which part of a 32x32 image matters.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image

from fakeimage.data.images import IMAGE_SIZE
from fakeimage.detector.verdict import is_fake

OCCLUSION_PATCH = 8
OCCLUSION_STRIDE = 2
OVERLAY_SIZE = 256
"""The 32x32 input is shown at 256x256 (nearest neighbour, so pixels stay visible)."""

_STARTS = range(0, IMAGE_SIZE - OCCLUSION_PATCH + 1, OCCLUSION_STRIDE)


def occluded_copies(pixels: np.ndarray) -> np.ndarray:
    """The image with each patch covered by its mean colour: (patches, 32, 32, 3) uint8."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.shape != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(f"expected one image of shape (32, 32, 3), got {pixels.shape}")
    fill = np.round(pixels.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    copies = np.repeat(pixels[None], len(_STARTS) ** 2, axis=0)
    for index, (top, left) in enumerate((t, s) for t in _STARTS for s in _STARTS):
        copies[index, top : top + OCCLUSION_PATCH, left : left + OCCLUSION_PATCH] = fill
    return copies


def occlusion(
    score: Callable[[np.ndarray], np.ndarray], pixels: np.ndarray, threshold: float
) -> tuple[float, np.ndarray]:
    """P(fake) of one image and the map of the evidence for its verdict, in one batched call."""
    scores = _scores_with_copies(score, pixels)
    prob_fake = float(scores[0])
    return prob_fake, _heat(scores, explain_fake=bool(is_fake(prob_fake, threshold)))


def _scores_with_copies(
    score: Callable[[np.ndarray], np.ndarray], pixels: np.ndarray
) -> np.ndarray:
    copies = occluded_copies(pixels)
    return np.asarray(score(np.concatenate([np.asarray(pixels, np.uint8)[None], copies])))


def _heat(scores: np.ndarray, *, explain_fake: bool) -> np.ndarray:
    """The map from the scores of the image (first) and of its occluded copies (the rest)."""
    sign = 1.0 if explain_fake else -1.0
    drops = np.clip(sign * (scores[0] - scores[1:]), 0.0, None)
    heat = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float64)
    cover = np.zeros_like(heat)
    for drop, (top, left) in zip(drops, ((t, s) for t in _STARTS for s in _STARTS), strict=True):
        heat[top : top + OCCLUSION_PATCH, left : left + OCCLUSION_PATCH] += drop
        cover[top : top + OCCLUSION_PATCH, left : left + OCCLUSION_PATCH] += 1
    heat /= np.maximum(cover, 1)
    peak = float(heat.max(initial=0.0))
    return (heat / peak if peak > 0 else heat).astype(np.float32)


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
