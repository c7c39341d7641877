"""Reading uploads in memory, within limits, into the model's input.

BentoML hands a `Path` parameter over as a temporary file named after the client's file name
(a name over 255 bytes fails with "File name too long"). `Upload` is a file parameter BentoML
does not spool: it keeps Starlette's in-memory part and the client's name as plain text. The
request guard (`serving.guard`) bounds the body before any of it is read; `read_upload` then
checks each file's size before reading it, and `prepare_image` decodes and preprocesses it
with the training code (`fakeimage.data.images`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, BinaryIO

import numpy as np
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import PydanticCustomError, core_schema
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser

from fakeimage.data.images import (
    BadImageError,
    decode_image,
    describe_input,
    input_warnings,
    to_model_input,
)
from fakeimage.serving.errors import RequestError, about, megabytes, missing_upload_message
from fakeimage.serving.request_ids import image_digest
from fakeimage.serving.settings import ServingSettings

logger = logging.getLogger("bentoml.fakeimage")

SMALL_UPLOAD_BYTES = 64 * 1024
SMALL_IMAGE_PIXELS = 256 * 256
"""A tiny image: decoded, resized and scored in little more than the forward pass itself.
Its header must say so: a 5 KB flat PNG can claim 40 million pixels (a quarter second)."""
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
"""The JPEG start-of-frame markers, which carry the image's size."""


class Upload(PurePosixPath):
    """An uploaded file held in memory: the client's file name as a pure path, and the file.

    A `PurePath` subclass so that BentoML treats the parameter as a multipart file; pure, so
    the name (of any length or content) never reaches the file system.
    """

    file: BinaryIO
    size: int | None

    @classmethod
    def of(cls, part: UploadFile) -> Upload:
        upload = cls(PurePosixPath(part.filename or "upload").name or "upload")
        upload.file, upload.size = part.file, part.size
        return upload

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(cls._validate)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        # how BentoML's own file parameters describe themselves (a multipart file field)
        return {"type": "file", "format": "binary"}

    @classmethod
    def _validate(cls, value: Any) -> Upload:
        if isinstance(value, Upload):
            return value
        if isinstance(value, UploadFile):
            return cls.of(value)
        raise PydanticCustomError("upload_type", "expected an uploaded file")


def keep_uploads_in_memory(max_bytes: int) -> None:
    """Let Starlette keep every multipart file of up to `max_bytes` in memory.

    Its parser rolls parts over 1 MB into a temporary file; the guard already bounds each
    request body, so holding a part of up to the upload limit in memory costs no more.
    """
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, max_bytes + 1)


def is_tiny_image(upload: Upload) -> bool:
    """Whether the upload is a PNG or JPEG whose header claims at most SMALL_IMAGE_PIXELS, read
    from its bytes in microseconds (no decoder); anything else, or any doubt, is not tiny."""
    if upload.size is None or upload.size > SMALL_UPLOAD_BYTES:
        return False
    try:
        upload.file.seek(0)
        pixels = header_pixels(upload.file.read(SMALL_UPLOAD_BYTES))
    except (OSError, ValueError):
        return False
    return pixels is not None and pixels <= SMALL_IMAGE_PIXELS


def header_pixels(data: bytes) -> int | None:
    """Width x height as a PNG's IHDR or a JPEG's start-of-frame says; None otherwise."""
    if data.startswith(_PNG) and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big") * int.from_bytes(data[20:24], "big")
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2  # the segments before the frame: APPn, DQT, DHT, DRI, COM, each with a length
    while position + 9 <= len(data) and data[position] == 0xFF:
        if data[position + 1] in _JPEG_FRAMES:
            height = int.from_bytes(data[position + 5 : position + 7], "big")
            return height * int.from_bytes(data[position + 7 : position + 9], "big")
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return None


def read_upload(upload: Upload, max_bytes: int, name: str | None = None) -> bytes:
    """The bytes of an upload, refusing empty files and files over `max_bytes`.

    The size is checked before reading when the parser knows it, and at most max_bytes + 1
    bytes are ever read, so an oversized upload is never copied.
    """
    if upload.size is not None and upload.size > max_bytes:
        raise RequestError(413, _too_large(name, upload.size, max_bytes), file=name)
    try:
        upload.file.seek(0)
        data = upload.file.read(max_bytes + 1)
    except (OSError, ValueError) as exc:
        raise RequestError(400, about(name, f"the upload could not be read ({exc})")) from None
    if len(data) > max_bytes:
        raise RequestError(413, _too_large(name, len(data), max_bytes), file=name)
    if not data:
        raise RequestError(422, about(name, "the file is empty"), file=name)
    return data


def _too_large(name: str | None, size: int, max_bytes: int) -> str:
    return about(
        name,
        f"the file is {megabytes(size)}, over the upload limit of {megabytes(max_bytes)}; "
        "shrink or re-encode it first",
    )


@dataclass
class PreparedImage:
    """One upload, decoded and preprocessed exactly as in training, with what to tell about it."""

    pixels: np.ndarray
    """(32, 32, 3) uint8: the model's input."""
    input: dict[str, Any]
    """width, height, mode, format as uploaded (before EXIF rotation)."""
    digest: bytes
    """sha256 of the file as uploaded: what its answer's request id is bound to."""
    warnings: list[str] = field(default_factory=list)


def prepare_image(data: bytes, *, max_pixels: int, name: str | None = None) -> PreparedImage:
    """Check, decode and preprocess one image; a bad one raises RequestError (4xx)."""
    if not data:
        raise RequestError(422, about(name, "the file is empty"), file=name)
    try:
        image = decode_image(data, max_pixels=max_pixels)
    except BadImageError as exc:
        raise RequestError(exc.status, about(name, str(exc)), file=name) from None
    try:
        return PreparedImage(
            to_model_input(image), describe_input(image), image_digest(data), input_warnings(image)
        )
    except Exception as exc:  # untrusted input must never become a 500
        logger.warning("could not preprocess %s", name or "an upload", exc_info=True)
        raise RequestError(
            422, about(name, f"the image could not be converted to RGB ({exc})"), file=name
        ) from None


def prepare_upload(
    upload: Upload, settings: ServingSettings, name: str | None = None
) -> PreparedImage:
    """read_upload then prepare_image: the whole path of one uploaded file."""
    data = read_upload(upload, settings.max_upload_bytes, name)
    return prepare_image(data, max_pixels=settings.max_pixels, name=name)


def prepare_uploads(uploads: Sequence[Upload], settings: ServingSettings) -> list[PreparedImage]:
    """Every file of a batch; the first bad one raises RequestError naming it (and its index)."""
    if not uploads:
        raise RequestError(400, missing_upload_message("images"))
    if len(uploads) > settings.max_batch_files:
        raise RequestError(
            413,
            f"{len(uploads)} files in one request, over the limit of "
            f"{settings.max_batch_files}; split them into several requests",
        )
    prepared = []
    for index, upload in enumerate(uploads):
        try:
            prepared.append(prepare_upload(upload, settings, f"file #{index + 1} ({upload.name})"))
        except RequestError as exc:
            exc.file, exc.index = upload.name, index
            raise
    return prepared
