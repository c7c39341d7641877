"""Test images for the serving tests, all generated with PIL/numpy (none read from disk)."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise(height: int, width: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of width x height black pixels: ~50 KB on disk, 400 Mpx decoded.

    Written chunk by chunk (Pillow would need a byte per pixel in memory to save it).
    """
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    rows_per_block = 1000
    idat = b"".join(packer.compress(row * rows_per_block) for _ in range(height // rows_per_block))
    idat += packer.compress(row * (height % rows_per_block)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def broken_crc_png() -> bytes:
    """A 32x32 PNG with one bit flipped inside its IDAT data: zlib still inflates it."""
    data = bytearray(encode(noise(32, 32, seed=3), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 2] ^= 0x01  # the first deflate block header: decodes, but the CRC no longer fits
    return bytes(data)


def exif_rotated_jpeg() -> bytes:
    image = noise(32, 36, seed=4)
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return encode(image, "JPEG", exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [noise(32, 32, seed=seed).convert("P") for seed in (5, 6, 7)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)


def palette_with_transparency() -> bytes:
    image = noise(32, 32, seed=8).convert("P")
    pixels = np.asarray(image).copy()
    pixels[:8, :8] = 0  # make sure the transparent index is used
    paletted = Image.fromarray(pixels, "P")
    paletted.putpalette(image.getpalette())
    return encode(paletted, "PNG", transparency=0)


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    warning: str | None = None
    """A fragment the response's warnings must contain (None: no warning required)."""
    reason: str | None = None
    """A reason code the answer must give for being uncertain (None: certain)."""


def valid_samples() -> list[Sample]:
    gray = noise(32, 32, seed=9).convert("L")
    sixteen = np.random.default_rng(10).integers(0, 65536, (32, 32)).astype(np.uint16)
    return [
        Sample("rgb.png", encode(noise(32, 32), "PNG")),
        Sample("cmyk.jpg", encode(noise(32, 32, seed=1).convert("CMYK"), "JPEG")),
        Sample("sixteen_bit.png", encode(Image.fromarray(sixteen), "PNG"), "grayscale"),
        Sample("palette_transparent.png", palette_with_transparency(), "transparent"),
        Sample("gray.png", encode(gray, "PNG"), "grayscale"),
        Sample("gray_alpha.png", encode(gray.convert("LA"), "PNG"), "grayscale"),
        Sample("animated.gif", animated_gif(), "only the first frame"),
        Sample("photo.webp", encode(noise(32, 32, seed=2), "WEBP")),
        Sample("rotated.jpg", exif_rotated_jpeg()),
        Sample(
            "one_pixel.png",
            encode(Image.new("RGB", (1, 1), (200, 30, 40)), "PNG"),
            reason="too_small",
        ),
        Sample(
            "large.jpg",
            encode(Image.new("RGB", (4000, 3000), (90, 120, 200)), "JPEG", quality=80),
            reason="too_large",
        ),
        Sample(
            "flat.png",
            encode(Image.new("RGB", (32, 32), (90, 120, 200)), "PNG"),
            reason="little_detail",
        ),
    ]


@dataclass(frozen=True)
class BadSample:
    name: str
    data: bytes
    status: int
    fragment: str
    """A fragment the error message must contain."""


def bad_samples() -> list[BadSample]:
    jpeg = encode(noise(64, 64, seed=11), "JPEG", quality=90)
    rng = np.random.default_rng(12)
    return [
        BadSample("empty.jpg", b"", 422, "empty"),
        BadSample("page.jpg", b"<!doctype html><html><body>hello</body></html>", 415, "not a"),
        BadSample("notes.jpg", b"just some text, not a picture\n" * 20, 415, "not a"),
        BadSample("noise.jpg", rng.integers(0, 256, 3000, dtype=np.uint8).tobytes(), 415, "not a"),
        BadSample("truncated.jpg", jpeg[: len(jpeg) // 2], 422, "truncated"),
        BadSample("broken_crc.png", broken_crc_png(), 422, "CRC"),
        BadSample("bomb.png", png_bomb(), 413, "pixels"),
    ]
