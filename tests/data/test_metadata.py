"""Metadata goes, pixels stay: what feedback images keep of their owner's photo."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from fakeimage.data.metadata import strip_metadata

PIXELS = np.random.default_rng(0).integers(0, 256, (40, 30, 3), np.uint8)


def _exif() -> bytes:
    exif = Image.Image().getexif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS latitude
    return exif.tobytes()


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_a_jpeg_loses_exif_gps_and_comments_and_keeps_every_pixel() -> None:
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, "JPEG", quality=90, exif=_exif(), comment=b"home")
    data = buffer.getvalue()
    stripped = strip_metadata(data)
    assert b"PhoneMaker" in data and b"PhoneMaker" not in stripped and b"home" not in stripped
    assert not Image.open(io.BytesIO(stripped)).getexif()
    assert np.array_equal(_pixels(stripped), _pixels(data))


def test_a_png_loses_text_and_exif_chunks_and_keeps_every_pixel() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Alice")
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, "PNG", pnginfo=info, exif=_exif())
    stripped = strip_metadata(buffer.getvalue())
    assert b"Alice" not in stripped and b"PhoneMaker" not in stripped
    assert np.array_equal(_pixels(stripped), PIXELS)


@pytest.mark.parametrize("kind", ["PNG", "WEBP"])
def test_an_image_without_metadata_or_of_another_format_is_unchanged(kind: str) -> None:
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, kind)
    assert strip_metadata(buffer.getvalue()) == buffer.getvalue()
