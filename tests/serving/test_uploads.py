"""Reading uploads in memory within limits, then decoding them as training does."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image
from pydantic import TypeAdapter, ValidationError
from serving_samples import bad_samples, encode, noise, png_bomb, valid_samples
from starlette.datastructures import UploadFile

from fakeimage.data.images import DEFAULT_MAX_PIXELS, load_model_input
from fakeimage.serving.errors import RequestError
from fakeimage.serving.settings import ServingSettings
from fakeimage.serving.uploads import (
    Upload,
    header_pixels,
    is_tiny_image,
    prepare_image,
    prepare_upload,
    prepare_uploads,
    read_upload,
)


class UnreadableFile(io.BytesIO):
    """A file that fails the test if anything is read from it."""

    def read(self, *args: Any) -> bytes:
        raise AssertionError("the oversized upload was read")


def make_upload(data: bytes, name: str = "a.png", *, size: int | None = -1) -> Upload:
    """An Upload as BentoML's parser hands it over (size -1: the parser knew the size)."""
    file = io.BytesIO(data)
    part = UploadFile(file, size=len(data) if size == -1 else size, filename=name)
    return TypeAdapter(Upload).validate_python(part)


def test_an_upload_keeps_the_bytes_and_the_client_name_in_memory() -> None:
    upload = make_upload(b"12345", "cat photo.png")
    assert upload.name == "cat photo.png"
    assert read_upload(upload, max_bytes=5) == b"12345"
    assert read_upload(upload, max_bytes=5) == b"12345"  # read again from the start


def test_file_names_of_any_length_and_content_are_fine() -> None:
    long_name = "é" * 496 + ".png"  # 996 characters, 1,000 bytes of UTF-8... and then some
    assert len(long_name.encode()) >= 996
    upload = make_upload(b"x", long_name)
    assert upload.name == long_name
    assert make_upload(b"x", "../../etc/passwd").name == "passwd"
    assert make_upload(b"x", "").name == "upload"


def test_only_files_validate_as_uploads() -> None:
    with pytest.raises(ValidationError, match="expected an uploaded file"):
        TypeAdapter(Upload).validate_python("http://example.com/a.png")


def test_read_upload_refuses_oversized_files_before_reading() -> None:
    part = UploadFile(UnreadableFile(b"x" * 2000), size=2000, filename="big.jpg")
    upload = TypeAdapter(Upload).validate_python(part)
    with pytest.raises(RequestError) as caught:
        read_upload(upload, max_bytes=1000, name="big.jpg")
    assert caught.value.status == 413
    assert "big.jpg" in caught.value.message and "over the upload limit" in caught.value.message


def test_read_upload_counts_bytes_when_the_size_is_unknown() -> None:
    with pytest.raises(RequestError) as caught:
        read_upload(make_upload(b"x" * 2000, size=None), max_bytes=1000)
    assert caught.value.status == 413


def test_read_upload_refuses_empty_files() -> None:
    with pytest.raises(RequestError) as caught:
        read_upload(make_upload(b""), max_bytes=1000)
    assert caught.value.status == 422 and "empty" in caught.value.message


def test_prepare_uploads_names_the_bad_file() -> None:
    good = encode(noise(32, 32), "PNG")
    settings = ServingSettings()
    assert len(prepare_uploads([make_upload(good), make_upload(good)], settings)) == 2
    uploads = [make_upload(good), make_upload(b"<html>", "bad.jpg"), make_upload(good)]
    with pytest.raises(RequestError) as caught:
        prepare_uploads(uploads, settings)
    assert caught.value.status == 415
    assert caught.value.body() == {
        "error": caught.value.message,
        "status": 415,
        "file": "bad.jpg",
        "index": 1,
    }
    assert "file #2 (bad.jpg)" in caught.value.message


def test_prepare_uploads_limits_the_number_of_files() -> None:
    upload = make_upload(encode(noise(32, 32), "PNG"))
    with pytest.raises(RequestError) as caught:
        prepare_uploads([upload] * 3, ServingSettings(max_batch_files=2))
    assert caught.value.status == 413 and "3 files" in caught.value.message
    with pytest.raises(RequestError) as caught:
        prepare_uploads([], ServingSettings())
    assert caught.value.status == 400 and "images" in caught.value.message


@pytest.mark.parametrize("sample", valid_samples(), ids=lambda s: s.name)
def test_valid_images_are_preprocessed_exactly_as_in_training(sample: Any) -> None:
    prepared = prepare_image(sample.data, max_pixels=DEFAULT_MAX_PIXELS)
    assert prepared.pixels.shape == (32, 32, 3) and prepared.pixels.dtype == np.uint8
    np.testing.assert_array_equal(prepared.pixels, load_model_input(sample.data))
    assert set(prepared.input) == {"width", "height", "mode", "format", "quality"}
    if sample.warning is None:
        assert prepared.warnings == [], prepared.warnings
    else:
        assert any(sample.warning in warning for warning in prepared.warnings), prepared.warnings


@pytest.mark.parametrize("sample", bad_samples(), ids=lambda s: s.name)
def test_bad_images_raise_request_errors(sample: Any) -> None:
    with pytest.raises(RequestError) as caught:
        prepare_image(sample.data, max_pixels=DEFAULT_MAX_PIXELS, name=sample.name)
    assert caught.value.status == sample.status, caught.value.message
    assert sample.fragment in caught.value.message
    assert caught.value.message.startswith(sample.name)


def test_pixel_limit_is_configurable() -> None:
    data = encode(noise(40, 40), "PNG")
    with pytest.raises(RequestError) as caught:
        prepare_image(data, max_pixels=1000)
    assert caught.value.status == 413 and "1,600" in caught.value.message


def test_prepare_upload_checks_size_then_decodes() -> None:
    upload = make_upload(encode(noise(32, 32), "PNG"), "photo.png")
    assert prepare_upload(upload, ServingSettings()).input["format"] == "PNG"
    with pytest.raises(RequestError) as caught:
        prepare_upload(upload, ServingSettings(max_upload_mb=0.001))
    assert caught.value.status == 413


@pytest.mark.parametrize("sample", valid_samples(), ids=lambda s: s.name)
def test_header_pixels_are_what_pillow_reads_or_unknown(sample: Any) -> None:
    claimed = header_pixels(sample.data)
    if sample.name.endswith((".png", ".jpg")):
        width, height = Image.open(io.BytesIO(sample.data)).size
        assert claimed == width * height
    else:
        assert claimed is None  # GIF, WebP...: never taken for tiny


def test_only_tiny_pngs_and_jpegs_are_tiny() -> None:
    """What /predict judges on the event loop when it is alone: a CIFAKE-sized image, never a
    small file that decodes to millions of pixels."""
    assert is_tiny_image(make_upload(encode(noise(32, 32), "JPEG", progressive=True), "a.jpg"))
    assert is_tiny_image(make_upload(encode(Image.new("RGB", (256, 256)), "PNG")))
    assert not is_tiny_image(make_upload(encode(Image.new("RGB", (257, 256)), "PNG")))
    assert not is_tiny_image(make_upload(png_bomb()))  # 50 KB, 400 Mpx
    assert not is_tiny_image(make_upload(encode(noise(32, 32), "GIF"), "a.gif"))
    assert not is_tiny_image(make_upload(b"\xff\xd8\xff\xe0garbage", "a.jpg"))
    assert not is_tiny_image(make_upload(encode(noise(32, 32), "PNG"), size=None))
