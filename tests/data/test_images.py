"""Decoding refuses bad or hostile bytes; every valid image becomes uint8 (32, 32, 3)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from fakeimage.data.images import (
    BadImageError,
    decode_image,
    describe_input,
    encode_jpeg,
    input_warnings,
    load_model_input,
    to_model_input,
)
from tests.serving.serving_samples import png_bomb

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, offset of the length field, data length) of each chunk of a PNG."""
    chunks, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        chunks.append((data[offset + 4 : offset + 8], offset, length))
        offset += 12 + length
    return chunks


def _break_crc(data: bytes, chunk_type: bytes) -> bytes:
    for kind, offset, length in _png_chunks(data):
        if kind == chunk_type:
            broken = bytearray(data)
            broken[offset + 8 + length] ^= 0xFF  # first byte of the chunk's CRC
            return bytes(broken)
    raise AssertionError(f"no {chunk_type!r} chunk")


def _with_text_chunk(data: bytes) -> bytes:
    """Insert a tEXt chunk (with a correct CRC) right after IHDR."""
    body = b"Comment\x00hello"
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body
    chunk += struct.pack(">I", zlib.crc32(b"tEXt" + body))
    end_of_ihdr = 8 + 12 + 13
    return data[:end_of_ihdr] + chunk + data[end_of_ihdr:]


def _assert_model_input(array: np.ndarray) -> None:
    assert array.dtype == np.uint8
    assert array.shape == (32, 32, 3)


@pytest.fixture(scope="module")
def bomb_png() -> bytes:
    """A 20000x20000 1-bit PNG (400 million pixels) that compresses to about 50 KB."""
    return png_bomb()


@pytest.fixture
def no_pixel_decoding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail a test that decodes any pixel: Pillow's ImageFile.load is where decoding happens."""
    calls: list[str] = []

    def refuse(image: ImageFile.ImageFile) -> None:
        calls.append(f"{image.size}")
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    return calls


# --- refused -------------------------------------------------------------------------------


def test_empty_bytes() -> None:
    with pytest.raises(BadImageError, match="the file is empty"):
        decode_image(b"")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(BadImageError, match="empty"):
        load_model_input(path)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(np.random.default_rng(1).bytes(4096), id="random"),
        pytest.param(b"just some text, not an image\n" * 20, id="text"),
        pytest.param(b"<html><body>404</body></html>", id="html"),
        pytest.param(b"\xff\xd8\xff", id="jpeg-magic-only"),
        pytest.param(b"\x89PNG\r\n\x1a\n", id="png-signature-only"),
    ],
)
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(BadImageError, match="not a readable image"):
        load_model_input(data)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(keep: float) -> None:
    data = _encode(Image.fromarray(_noise(64, 64)), "JPEG", quality=90)
    with pytest.raises(BadImageError):
        load_model_input(data[: int(len(data) * keep)])


def test_truncated_png() -> None:
    data = _encode(Image.fromarray(_noise(64, 64)), "PNG")
    with pytest.raises(BadImageError, match="corrupt or truncated"):
        load_model_input(data[: len(data) // 2])


def test_png_with_a_broken_ihdr_crc() -> None:
    data = _encode(Image.fromarray(_noise(16, 16)), "PNG")
    with pytest.raises(BadImageError):
        decode_image(_break_crc(data, b"IHDR"))


def test_png_with_a_broken_ancillary_chunk_crc() -> None:
    data = _with_text_chunk(_encode(Image.fromarray(_noise(16, 16)), "PNG"))
    assert load_model_input(data).shape == (32, 32, 3)  # the intact file is fine
    with pytest.raises(BadImageError):
        decode_image(_break_crc(data, b"tEXt"))


def test_png_with_corrupt_pixel_data() -> None:
    data = bytearray(_encode(Image.fromarray(_noise(16, 16)), "PNG"))
    (_, offset, _length) = next(c for c in _png_chunks(bytes(data)) if c[0] == b"IDAT")
    data[offset + 8 + 5] ^= 0xFF  # inside the zlib stream: its CRC no longer matches
    with pytest.raises(BadImageError, match="IDAT chunk fails its CRC check"):
        load_model_input(bytes(data))


def test_decompression_bomb_is_refused_from_its_header(
    bomb_png: bytes, no_pixel_decoding: list[str]
) -> None:
    assert len(bomb_png) < 100_000
    with pytest.raises(BadImageError):
        decode_image(bomb_png)
    assert no_pixel_decoding == []


def test_decompression_bomb_gets_the_pixel_limit_message(bomb_png: bytes) -> None:
    with pytest.raises(BadImageError, match="over the limit"):
        decode_image(bomb_png)


def test_over_the_pixel_limit_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _encode(Image.new("P", (8000, 6000)), "PNG")  # 48 Mpx, under PIL's own limit
    decoded: list[str] = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: decoded.append("load"))
    with pytest.raises(BadImageError, match=r"8000x6000 = 48,000,000 pixels, over the limit"):
        decode_image(data)
    assert decoded == []


def test_max_pixels_is_a_parameter() -> None:
    data = _encode(Image.fromarray(_noise(40, 40)), "PNG")
    with pytest.raises(BadImageError, match="over the limit of 1,000"):
        load_model_input(data, max_pixels=1000)
    _assert_model_input(load_model_input(data, max_pixels=1600))


# --- accepted ------------------------------------------------------------------------------


def test_cmyk_jpeg() -> None:
    data = _encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG", quality=95)
    assert decode_image(data).mode == "CMYK"
    array = load_model_input(data)
    _assert_model_input(array)
    assert np.abs(array.astype(int) - RED).max() <= 3


def test_16_bit_greyscale_png_is_scaled_not_clipped() -> None:
    wide = np.full((40, 40), 32768, np.uint16)
    wide[:20] = 65535
    data = _encode(Image.fromarray(wide), "PNG")
    assert decode_image(data).mode.startswith("I")
    array = load_model_input(data)
    _assert_model_input(array)
    assert np.all(np.abs(array[24:].astype(int) - 128) <= 1)  # not clipped to 255
    assert np.all(array[:8] == 255)


def test_dark_16_bit_png_is_scaled_too() -> None:
    data = _encode(Image.fromarray(np.full((8, 8), 255, np.uint16)), "PNG")
    assert load_model_input(data).max() <= 1  # 255 / 65535 of full scale


def test_palette_png_with_transparency_is_flattened_on_white() -> None:
    image = Image.new("P", (16, 16), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    image.paste(1, (0, 0, 8, 16))  # left half opaque red, right half transparent index 0
    data = _encode(image, "PNG", transparency=0)
    array = load_model_input(data)
    _assert_model_input(array)
    assert tuple(array[16, 2]) == RED
    assert tuple(array[16, 29]) == (255, 255, 255)


def test_greyscale_l() -> None:
    array = load_model_input(_encode(Image.new("L", (33, 33), 77), "PNG"))
    _assert_model_input(array)
    assert np.all(array == 77)


def test_greyscale_with_alpha_la() -> None:
    image = Image.new("LA", (20, 20), (0, 0))  # transparent black
    image.paste((100, 255), (0, 0, 20, 10))  # top half opaque grey
    array = load_model_input(_encode(image, "PNG"))
    _assert_model_input(array)
    assert np.all(array[:14] == 100)
    assert np.all(array[18:] == 255)


def test_animated_gif_uses_the_first_frame() -> None:
    first, second = Image.new("RGB", (32, 32), RED), Image.new("RGB", (32, 32), (0, 255, 0))
    data = _encode(first, "GIF", save_all=True, append_images=[second], duration=50, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    array = load_model_input(data)
    _assert_model_input(array)
    assert np.all(array == RED)


def test_webp() -> None:
    data = _encode(Image.new("RGB", (50, 50), (10, 200, 30)), "WEBP", lossless=True)
    assert decode_image(data).format == "WEBP"
    array = load_model_input(data)
    _assert_model_input(array)
    assert np.all(array == (10, 200, 30))


def test_bmp_and_tiff() -> None:
    pixels = _noise(32, 32, seed=3)
    for fmt in ("BMP", "TIFF"):
        assert np.array_equal(load_model_input(_encode(Image.fromarray(pixels), fmt)), pixels)


def test_exif_orientation_is_applied() -> None:
    """Orientation 6 means: rotate 90 degrees clockwise to display."""
    pixels = np.zeros((32, 64, 3), np.uint8)
    pixels[:, :32], pixels[:, 32:] = RED, BLUE  # left half red, right half blue
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6
    data = _encode(image, "JPEG", exif=exif.tobytes(), quality=95)
    array = load_model_input(data)
    _assert_model_input(array)
    # Upright, the 64x32 landscape is a 32x64 portrait: red on top, blue at the bottom.
    assert np.abs(array[:12].astype(int) - RED).max() <= 12
    assert np.abs(array[20:].astype(int) - BLUE).max() <= 12


def test_one_by_one() -> None:
    array = load_model_input(_encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    _assert_model_input(array)
    assert np.all(array == (1, 2, 3))


def test_large_photo_is_box_downscaled() -> None:
    pixels = np.zeros((3000, 4000, 3), np.uint8)
    pixels[:, :2000] = 200
    array = load_model_input(_encode(Image.fromarray(pixels), "PNG", compress_level=1))
    _assert_model_input(array)
    assert np.all(array[:, :16] == 200) and np.all(array[:, 16:] == 0)


def test_box_resampling_averages_areas() -> None:
    pixels = np.zeros((64, 64, 3), np.uint8)
    pixels[::2] = 200  # alternate rows: every 2x2 block averages to 100
    assert np.all(load_model_input(_encode(Image.fromarray(pixels), "PNG")) == 100)


def test_32x32_rgb_passes_through_bit_identical() -> None:
    pixels = _noise(32, 32, seed=7)
    assert np.array_equal(load_model_input(_encode(Image.fromarray(pixels), "PNG")), pixels)
    assert np.array_equal(to_model_input(Image.fromarray(pixels)), pixels)


def test_paths_and_bytes_agree(tmp_path: Path) -> None:
    data = _encode(Image.fromarray(_noise(48, 40)), "JPEG")
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    assert np.array_equal(load_model_input(path), load_model_input(data))


def test_to_model_input_returns_a_writable_copy() -> None:
    array = to_model_input(Image.fromarray(_noise(32, 32)))
    assert array.flags.writeable and array.flags.owndata


# --- encoding ------------------------------------------------------------------------------


def test_encode_jpeg_is_cifake_format() -> None:
    pixels = _noise(32, 32, seed=5)
    data = encode_jpeg(pixels)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (32, 32) and image.mode == "RGB"
    assert JpegImagePlugin.get_sampling(image) == 2  # 4:2:0
    assert "progressive" not in image.info  # baseline
    _assert_model_input(load_model_input(data))


def test_png_checksum_error_names_the_broken_chunk() -> None:
    from fakeimage.data.images import png_checksum_error

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, "PNG")
    good = buffer.getvalue()
    assert png_checksum_error(good) is None
    assert png_checksum_error(b"not a png") is None
    broken = bytearray(good)
    broken[-1] ^= 0xFF  # the last byte of IEND's CRC
    assert "IEND" in png_checksum_error(bytes(broken))
    with pytest.raises(BadImageError, match="CRC"):
        decode_image(bytes(broken))


def _noise_image(height: int, width: int) -> Image.Image:
    return Image.fromarray(_noise(height, width), "RGB")


def test_size_and_shape_are_not_warnings() -> None:
    # they make an answer uncertain instead (tests/models/test_uncertainty.py)
    assert input_warnings(_noise_image(8, 200)) == []


def test_warnings_for_what_conversion_drops() -> None:
    gray = Image.new("L", (32, 32), 128)
    assert any("grayscale" in w for w in input_warnings(gray))
    clear = Image.new("RGBA", (32, 32), (10, 20, 30, 0))
    assert any("transparent pixels" in w for w in input_warnings(clear))
    opaque = Image.new("RGBA", (32, 32), (10, 20, 30, 255))
    assert input_warnings(opaque) == []


def test_describe_input_is_the_image_as_uploaded() -> None:
    image = decode_image(_encode(_noise_image(20, 40), "PNG"))
    assert describe_input(image) == {
        "width": 40,
        "height": 20,
        "mode": "RGB",
        "format": "PNG",
        "quality": None,
    }


@pytest.mark.parametrize("quality", [5, 30, 50, 75, 95])
def test_the_quality_a_jpeg_was_saved_at_is_read_back(quality: int) -> None:
    from fakeimage.data.images import jpeg_quality

    pixels = np.random.default_rng(quality).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    image = decode_image(buffer.getvalue())
    assert jpeg_quality(image) == quality == describe_input(image)["quality"]
