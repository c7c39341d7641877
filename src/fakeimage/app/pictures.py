"""The page's pictures: the upload as a person sees it, and the occlusion map in its shape.

The service draws its occlusion map over the 32x32 square the model scored: the upload
squeezed to a square (box resampling, `fakeimage.data.images.to_model_input`). Beside a
portrait photo that square is misleading, so the page stretches the map back to the upload's
proportions, at the size of the preview, with nearest-neighbour resampling: the model's
32x32 pixels stay visible as blocks, in the places they came from.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from fakeimage.data.images import BadImageError, decode_image

DISPLAY_PX = 320
"""Previews are scaled to about this many pixels on their longer side (tiny ones crisply)."""


def display_image(data: bytes) -> Image.Image | None:
    """An RGB(A) picture to show: big ones shrunk, tiny ones enlarged without blurring."""
    try:
        image = ImageOps.exif_transpose(decode_image(data))
        if image.mode not in ("RGB", "RGBA"):
            has_alpha = image.mode in ("LA", "PA") or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
    except (BadImageError, OSError, ValueError):
        return None
    image.thumbnail((DISPLAY_PX, DISPLAY_PX), Image.Resampling.LANCZOS)
    factor = DISPLAY_PX // max(image.size)
    if factor > 1:
        image = image.resize(
            (image.width * factor, image.height * factor), Image.Resampling.NEAREST
        )
    return image


def map_in_shape(png: bytes, width: int, height: int) -> Image.Image:
    """The service's square occlusion map stretched to the upload's proportions (longer side
    DISPLAY_PX), so each block lies over the part of the upload it was computed from."""
    overlay = Image.open(io.BytesIO(png)).convert("RGB")
    scale = DISPLAY_PX / max(width, height, 1)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return overlay.resize(size, Image.Resampling.NEAREST)
