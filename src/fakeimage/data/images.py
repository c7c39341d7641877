"""Decoding and the one preprocessing function shared by training and serving.

Training (the preprocess stage) and serving (BentoML, the CLI, the web page) both turn an
image into the model's input with :func:`to_model_input`, so the two can never disagree.
"""

from __future__ import annotations

import io
import warnings
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SIZE = 32
"""CIFAKE images are 32x32 RGB; every model in the zoo takes exactly this."""

DEFAULT_MAX_PIXELS = 40_000_000
"""Refuse images with more pixels than this before decoding them (decompression bombs)."""

UPSCALE_LIMIT = IMAGE_SIZE // 2
"""Sides shorter than this (16 px) are blown up more than 2x: too little detail to judge."""
DOWNSCALE_LIMIT = IMAGE_SIZE * 2
"""Sides longer than this (64 px) are shrunk more than 2x: the generator's traces average out."""
MAX_ASPECT = 1.25
"""Images more elongated than 5:4 are visibly stretched when squeezed into 32x32."""

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_GRAYSCALE_MODES = {"1", "L", "LA", "I", "F", *_SIXTEEN_BIT_MODES}


class BadImageError(ValueError):
    """The bytes are not an image we can decode safely; the message says why, in one line.

    `status` is the HTTP status a service answers with: 422, the data is damaged.
    """

    status = 422


class UnreadableImageError(BadImageError):
    """Not an image format we read (text, HTML, random bytes, an empty file...)."""

    status = 415


class TooManyPixelsError(BadImageError):
    """More pixels than allowed: refused before decoding (decompression bombs)."""

    status = 413


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_checksum_error(data: bytes) -> str | None:
    """Why a PNG fails a chunk checksum, or None. Pillow skips the pixel chunks' CRCs."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    position = len(_PNG_SIGNATURE)
    while position + 12 <= len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        end = position + 12 + length
        if end > len(data):
            return None  # truncated: decoding reports it
        kind = data[position + 4 : position + 8]
        if zlib.crc32(data[position + 4 : end - 4]) != int.from_bytes(data[end - 4 : end], "big"):
            label = kind.decode("latin-1") if kind.isalpha() else repr(kind)
            return f"the PNG {label} chunk fails its CRC check: the file is corrupt"
        if kind == b"IEND":
            return None
        position = end
    return None


def decode_image(data: bytes | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open and fully decode an image from bytes or a path, first frame only.

    The pixel count is checked from the header, before any pixel is decoded, so a small file
    that claims 20000x20000 pixels is refused cheaply. Truncated files and broken PNG chunks
    fail here rather than later.
    """
    raw = data.read_bytes() if isinstance(data, Path) else data
    if not raw:
        raise BadImageError("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(raw))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooManyPixelsError(
            f"image is over the limit of {max_pixels:,} pixels (a decompression bomb?); "
            "resize it first"
        ) from None
    except UnidentifiedImageError:
        raise UnreadableImageError(
            "not a readable image (expected JPEG, PNG, WebP, GIF, BMP or TIFF)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableImageError(f"not a readable image ({exc})") from None
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixelsError(
            f"image is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,}; resize it first"
        )
    if problem := png_checksum_error(raw):
        raise BadImageError(problem)
    try:
        image.seek(0)
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImageError(f"the image data is corrupt or truncated ({exc})") from None
    return image


def to_model_input(image: Image.Image) -> np.ndarray:
    """Turn any decoded image into the model's input: RGB uint8 array of shape (32, 32, 3).

    - EXIF orientation is applied, so a rotated phone photo is seen upright;
    - 16-bit images are scaled to 8 bits (not clipped), CMYK and palettes convert to RGB,
      and transparency is flattened onto white;
    - the size changes with box (area-averaging) resampling: on down-scaling every source pixel
      counts equally, which is how the 32x32 CIFAR/CIFAKE images and the synthetic REAL crops
      were made; a 32x32 input passes through untouched. Pixel scaling to [0, 1] happens inside
      the saved model, so this uint8 array is exactly what training stored.
    """
    image = ImageOps.exif_transpose(image)
    if image.mode in _SIXTEEN_BIT_MODES or image.mode == "I":
        wide = np.asarray(image, dtype=np.float64)
        # 16-bit modes always span 0..65535; for 32-bit "I" (how some 16-bit PNGs open) the
        # range is guessed from the values.
        sixteen_bit = image.mode in _SIXTEEN_BIT_MODES or wide.max(initial=0) > 255
        scale = 255.0 / 65535.0 if sixteen_bit else 1.0
        image = Image.fromarray(np.clip(wide * scale + 0.5, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        image = Image.fromarray(np.clip(np.asarray(image), 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode != "RGB":
        image = image.convert("RGB")
    if image.size != (IMAGE_SIZE, IMAGE_SIZE):
        image = image.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.uint8).copy()


def describe_input(image: Image.Image) -> dict[str, Any]:
    """The image as uploaded, before `to_model_input`: width, height, Pillow mode, format and,
    for a JPEG, the estimated quality it was saved at."""
    width, height = image.size
    described = {"width": width, "height": height, "mode": image.mode, "format": image.format}
    return described | {"quality": jpeg_quality(image)}


# The IJG (libjpeg) luminance table at quality 50, row by row, as Pillow reports tables.
_IJG_LUMINANCE = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64,
)  # fmt: skip


def jpeg_quality(image: Image.Image) -> int | None:
    """The IJG quality (1-100) a JPEG's luminance table corresponds to, None for other formats.

    libjpeg scales its base table by 5000/q (q < 50) or 200 - 2q (q >= 50) percent; inverting
    the mean scale recovers q exactly for files from libjpeg, Pillow, OpenCV and most cameras,
    and approximately for encoders with their own tables.
    """
    tables = getattr(image, "quantization", None) if image.format == "JPEG" else None
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    table = np.asarray(tables[0], np.float64)
    unclipped = table < 255  # libjpeg caps entries at 255 at low qualities
    if not unclipped.any():
        return 1
    scale = float(np.median(table[unclipped] / _IJG_LUMINANCE[unclipped])) * 100
    quality = (200 - scale) / 2 if scale <= 100 else 5000 / scale
    return int(np.clip(round(quality), 1, 100))


def input_warnings(image: Image.Image) -> list[str]:
    """What `to_model_input` does to this image besides resizing, which may matter.

    The model saw only 32x32 colour photos: dropped frames, gray levels and flattened
    transparency move an input away from them. (Size and shape make an answer uncertain:
    `fakeimage.detector.uncertainty.geometry_reasons`.)
    """
    found = []
    frames = getattr(image, "n_frames", 1)
    if getattr(image, "is_animated", False) or frames > 1:
        found.append(f"the image is animated ({frames} frames); only the first frame was used")
    if image.mode in _GRAYSCALE_MODES:
        found.append(
            "the image is grayscale; the detector was trained on colour images, so the verdict "
            "is less reliable"
        )
    if _has_transparent_pixels(image):
        found.append("the image has transparent pixels; they were flattened onto white")
    return found


def _has_transparent_pixels(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA"):
        return image.getchannel("A").getextrema()[0] < 255
    if "transparency" in image.info:
        return image.convert("RGBA").getchannel("A").getextrema()[0] < 255
    return False


def load_model_input(data: bytes | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode then preprocess: the path every consumer of a file or an upload takes."""
    return to_model_input(decode_image(data, max_pixels=max_pixels))


def encode_jpeg(pixels: np.ndarray, quality: int = 75) -> bytes:
    """Encode RGB uint8 pixels as CIFAKE stores them: baseline JPEG, 4:2:0 chroma subsampling."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "JPEG", quality=quality, subsampling=2)
    return buffer.getvalue()
