"""Request-independent serving logic: limits, reading uploads, verdicts, warnings, responses.

Everything here is a plain function (or a small ASGI middleware) that the tests call directly;
the BentoML service in `fakeimage.serving.service` only wires these together. Images go through
`decode_image` and `to_model_input` from `fakeimage.data.images`, the one preprocessing path
that training used. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from PIL import Image
from pydantic import BaseModel

from fakeimage.data.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_SIZE,
    BadImageError,
    decode_image,
    to_model_input,
)
from fakeimage.data.layout import CLASS_NAMES
from fakeimage.errors import UserError

if TYPE_CHECKING:
    from fakeimage.models.onnx_runtime import OnnxDetector

logger = logging.getLogger("bentoml.fakeimage")

MB = 1024 * 1024
UPSCALE_LIMIT = IMAGE_SIZE // 2
"""Sides shorter than this (16 px) are blown up more than 2x: too little detail to judge."""
DOWNSCALE_LIMIT = IMAGE_SIZE * 2
"""Sides longer than this (64 px) are shrunk more than 2x: the generator's traces average out."""
MAX_ASPECT = 1.25
"""Images more elongated than 5:4 are visibly stretched when squeezed into 32x32."""
GRAYSCALE_MODES = {"1", "L", "LA", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MULTIPART_SLACK = 64 * 1024
"""Room for multipart boundaries and part headers on top of the file size limit."""


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class ServingConfig:
    """Limits and batching bounds; `from_env` reads the FAKEIMAGE_* environment variables."""

    max_upload_bytes: int = 8 * MB
    """FAKEIMAGE_MAX_UPLOAD_MB: the largest file accepted, checked before decoding."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    """FAKEIMAGE_MAX_PIXELS: refuse images with more pixels, from the header (bombs)."""
    max_batch_files: int = 256
    """FAKEIMAGE_MAX_BATCH_FILES: the most files one /predict_batch request may carry."""
    max_batch_bytes: int = 64 * MB
    """FAKEIMAGE_MAX_BATCH_MB: the largest /predict_batch request body."""
    batch_size: int = 256
    """FAKEIMAGE_BATCH_SIZE: adaptive batching's largest model batch (images)."""
    model_threads: int = 1
    """FAKEIMAGE_MODEL_THREADS: ONNX Runtime threads of the API process, which scores single
    images (0: ONNX Runtime's default, all cores). One image gains nothing from a second thread,
    which would only take a core from decoding uploads."""
    batch_threads: int = 0
    """FAKEIMAGE_BATCH_THREADS: ONNX Runtime threads of the batch model worker (0: all cores).
    Batches of 64+ images run nearly twice as fast on two cores as on one."""
    batch_latency_ms: int = 1000
    """FAKEIMAGE_BATCH_LATENCY_MS: adaptive batching's latency bound. BentoML waits only as
    long as batching pays off (about a millisecond at low load), but answers 503 for requests
    queued longer than this, so it must cover stalls of a busy 2-core machine."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServingConfig:
        env = os.environ if env is None else env
        defaults = cls()

        def number(name: str, default: float, minimum: float) -> float:
            text = env.get(name, "").strip()
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise UserError(f"{name}={text!r} is not a number") from None
            if not value >= minimum:
                raise UserError(f"{name}={text!r} must be at least {minimum:g}")
            return value

        return cls(
            max_upload_bytes=int(
                number("FAKEIMAGE_MAX_UPLOAD_MB", defaults.max_upload_bytes / MB, 0.001) * MB
            ),
            max_pixels=int(number("FAKEIMAGE_MAX_PIXELS", defaults.max_pixels, 1)),
            max_batch_files=int(number("FAKEIMAGE_MAX_BATCH_FILES", defaults.max_batch_files, 1)),
            max_batch_bytes=int(
                number("FAKEIMAGE_MAX_BATCH_MB", defaults.max_batch_bytes / MB, 0.001) * MB
            ),
            batch_size=int(number("FAKEIMAGE_BATCH_SIZE", defaults.batch_size, 2)),
            model_threads=int(number("FAKEIMAGE_MODEL_THREADS", defaults.model_threads, 0)),
            batch_threads=int(number("FAKEIMAGE_BATCH_THREADS", defaults.batch_threads, 0)),
            batch_latency_ms=int(
                number("FAKEIMAGE_BATCH_LATENCY_MS", defaults.batch_latency_ms, 1)
            ),
        )


def upload_tmpdir(
    env: Mapping[str, str] | None = None,
    candidates: Sequence[str] = ("/dev/shm",),
    min_free_bytes: int = 1024 * MB,
) -> str | None:
    """Where the API process should keep uploads: FAKEIMAGE_UPLOAD_TMPDIR, else a RAM disk.

    BentoML writes every uploaded file to a temporary file before the endpoint sees it;
    creating one costs ~130 us on this machine's ext4 disk against ~17 us on tmpfs, which
    matters for a 256-file batch. /dev/shm is used only with at least `min_free_bytes` free
    (containers often give it 64 MB). None: keep the system default.
    """
    env = os.environ if env is None else env
    chosen = env.get("FAKEIMAGE_UPLOAD_TMPDIR", "").strip()
    if chosen:
        return None if chosen.lower() == "default" else chosen
    for candidate in candidates:
        try:
            if (
                os.access(candidate, os.W_OK)
                and shutil.disk_usage(candidate).free >= min_free_bytes
            ):
                return candidate
        except OSError:
            continue
    return None


@dataclass(frozen=True)
class ModelInfo:
    """What the responses say about the served detector."""

    name: str
    version: str
    threshold: float
    source: str = ""

    @classmethod
    def from_detector(cls, detector: OnnxDetector, source: str = "") -> ModelInfo:
        return cls(detector.name, detector.version, float(detector.threshold), source)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "threshold": self.threshold,
            "source": self.source,
        }


# --------------------------------------------------------------------------- errors


class RequestError(Exception):
    """A problem with the request that the client can fix: answered as 4xx JSON, never 500."""

    def __init__(
        self, status: int, message: str, *, file: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.file = file
        self.index = index
        """Position of the bad file in a batch (0-based)."""

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "status": self.status}
        if self.file is not None:
            body["file"] = self.file
        if self.index is not None:
            body["index"] = self.index
        return body


def image_error(exc: BadImageError, name: str | None = None) -> RequestError:
    """A decoding failure as a 4xx: its class says which (413, 415 or 422)."""
    return RequestError(exc.status, _about(name, str(exc)), file=name)


def _about(name: str | None, message: str) -> str:
    return f"{name}: {message}" if name else message


def _megabytes(size: int) -> str:
    return f"{size / MB:.3g} MB"


# --------------------------------------------------------------------------- reading uploads


def read_upload(path: Path, max_bytes: int, name: str | None = None) -> bytes:
    """The bytes of an uploaded file, refusing empty files and files over `max_bytes`.

    The size comes from the file system before anything is read, and at most max_bytes + 1
    bytes are ever read, so an oversized upload is never loaded.
    """
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > max_bytes:
                raise RequestError(413, _too_large(name, size, max_bytes), file=name)
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise RequestError(400, _about(name, f"the upload could not be read ({exc})")) from None
    if len(data) > max_bytes:
        raise RequestError(413, _too_large(name, len(data), max_bytes), file=name)
    if not data:
        raise RequestError(422, _about(name, "the file is empty"), file=name)
    return data


def _too_large(name: str | None, size: int, max_bytes: int) -> str:
    return _about(
        name,
        f"the file is {_megabytes(size)}, over the upload limit of {_megabytes(max_bytes)}; "
        "shrink or re-encode it first",
    )


_UPLOAD_NAME = re.compile(r"^tmp[a-z0-9_]{8}(?P<name>.+)$")


def upload_name(path: Path) -> str:
    """The client's file name of an upload that BentoML saved as `tmpXXXXXXXX<name>`."""
    match = _UPLOAD_NAME.match(path.name)
    return match["name"] if match else path.name


# --------------------------------------------------------------------------- preprocessing


@dataclass
class PreparedImage:
    """One upload, decoded and preprocessed exactly as in training, with what to tell about it."""

    pixels: np.ndarray
    """(32, 32, 3) uint8: the model's input."""
    input: dict[str, Any]
    """width, height, mode, format as uploaded (before EXIF rotation)."""
    warnings: list[str] = field(default_factory=list)


def describe_input(image: Image.Image) -> dict[str, Any]:
    width, height = image.size
    return {"width": width, "height": height, "mode": image.mode, "format": image.format}


def input_warnings(image: Image.Image) -> list[str]:
    """What makes the verdict on this image less reliable than on a CIFAKE-like 32x32 photo."""
    width, height = image.size
    found = []
    if max(width, height) > DOWNSCALE_LIMIT:
        found.append(
            f"the detector saw only {IMAGE_SIZE}x{IMAGE_SIZE} images; this image was "
            f"down-scaled from {width}x{height} and the verdict is less reliable"
        )
    if min(width, height) < UPSCALE_LIMIT:
        found.append(
            f"the detector saw only {IMAGE_SIZE}x{IMAGE_SIZE} images; this image was "
            f"up-scaled from {width}x{height}, it has too little detail and the verdict is "
            "less reliable"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        found.append(
            f"the image is not square ({width}x{height}); it was stretched to "
            f"{IMAGE_SIZE}x{IMAGE_SIZE} without cropping, which distorts it"
        )
    frames = getattr(image, "n_frames", 1)
    if getattr(image, "is_animated", False) or frames > 1:
        found.append(f"the image is animated ({frames} frames); only the first frame was used")
    if image.mode in GRAYSCALE_MODES:
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


def prepare_image(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None
) -> PreparedImage:
    """Check, decode and preprocess one upload; a bad one raises RequestError (4xx)."""
    if not data:
        raise RequestError(422, _about(name, "the file is empty"), file=name)
    try:
        image = decode_image(data, max_pixels=max_pixels)
    except BadImageError as exc:
        raise image_error(exc, name) from None
    try:
        return PreparedImage(to_model_input(image), describe_input(image), input_warnings(image))
    except Exception as exc:  # untrusted input must never become a 500
        logger.warning("could not preprocess %s", name or "an upload", exc_info=True)
        raise RequestError(
            422, _about(name, f"the image could not be converted to RGB ({exc})"), file=name
        ) from None


def prepare_upload(path: Path, config: ServingConfig, name: str | None = None) -> PreparedImage:
    """read_upload then prepare_image: the whole path of one uploaded file."""
    data = read_upload(path, config.max_upload_bytes, name)
    return prepare_image(data, max_pixels=config.max_pixels, name=name)


def prepare_uploads(paths: Sequence[Path], config: ServingConfig) -> list[PreparedImage]:
    """Every file of a batch; the first bad one raises RequestError naming it (and its index)."""
    if not paths:
        raise RequestError(400, missing_upload_message("images", batch=True))
    if len(paths) > config.max_batch_files:
        raise RequestError(
            413,
            f"{len(paths)} files in one request, over the limit of {config.max_batch_files}; "
            "split them into several requests",
        )
    prepared = []
    for index, path in enumerate(paths):
        name = upload_name(path)
        try:
            prepared.append(prepare_upload(path, config, f"file #{index + 1} ({name})"))
        except RequestError as exc:
            exc.file, exc.index = name, index
            raise
    return prepared


def missing_upload_message(field_name: str, *, batch: bool = False) -> str:
    example = (
        f"-F {field_name}=@a.jpg -F {field_name}=@b.png"
        if batch
        else (f"-F {field_name}=@photo.jpg")
    )
    return (
        f"no image: send the file{'s' if batch else ''} as multipart/form-data field "
        f"'{field_name}' (for example: curl {example} URL)"
    )


# --------------------------------------------------------------------------- verdicts


class ModelRef(BaseModel):
    name: str
    version: str


class InputInfo(BaseModel):
    width: int
    height: int
    mode: str
    format: str | None


class Prediction(BaseModel):
    """The answer of /predict (the schema BentoML publishes in its OpenAPI document)."""

    label: Literal["REAL", "FAKE"]
    prob_fake: float
    """P(FAKE) from the model."""
    confidence: float
    """Probability of the returned label: prob_fake for FAKE, 1 - prob_fake for REAL."""
    threshold: float
    """FAKE when prob_fake >= threshold (chosen on validation data at training time)."""
    model: ModelRef
    input: InputInfo
    """The upload as received: size before resizing, Pillow mode and format."""
    warnings: list[str]
    """Why this verdict may be less reliable (size, aspect, animation, grayscale...)."""


class FilePrediction(Prediction):
    """One answer of /predict_batch: a Prediction plus the file's name, in upload order."""

    file: str


def verdict(prob_fake: float, threshold: float) -> tuple[str, float]:
    """The label (FAKE when P(fake) >= threshold) and the probability of that label."""
    fake = prob_fake >= threshold
    return CLASS_NAMES[int(fake)], prob_fake if fake else 1.0 - prob_fake


def build_prediction(
    prob_fake: float, model: ModelInfo, prepared: PreparedImage, *, file: str | None = None
) -> dict[str, Any]:
    """The JSON object /predict answers (and /predict_batch, once per file)."""
    prob_fake = float(prob_fake)
    label, confidence = verdict(prob_fake, model.threshold)
    prediction: dict[str, Any] = {
        "label": label,
        "prob_fake": round(prob_fake, 6),
        "confidence": round(confidence, 6),
        "threshold": model.threshold,
        "model": {"name": model.name, "version": model.version},
        "input": prepared.input,
        "warnings": list(prepared.warnings),
    }
    if file is not None:
        prediction["file"] = file
    return prediction


# --------------------------------------------------------------------------- request size


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_HANDLER_REACHED: ContextVar[list[bool] | None] = ContextVar("fakeimage_reached", default=None)


def mark_request_parsed() -> None:
    """Called first thing by an endpoint: BentoML parsed the request, so errors are ours now."""
    holder = _HANDLER_REACHED.get()
    if holder is not None:
        holder[0] = True


class RequestGuardMiddleware:
    """Clear 4xx answers for requests BentoML cannot parse, before and after it tries.

    For each guarded POST path (`limits` maps it to its largest body in bytes):
    - a body that is not multipart/form-data is refused with 415;
    - a declared Content-Length over the limit is refused with 413 before the body is read;
      a body without one (chunked) is counted as it streams, and once over the limit the app
      sees the body end and its answer is replaced by the 413;
    - a 500 answered before the endpoint ran (see `mark_request_parsed`) is a request BentoML
      could not parse (malformed multipart, a text field or URL where a file belongs, too many
      parts): it becomes a 400 that says so.
    """

    def __init__(self, app: ASGIApp, limits: Mapping[str, int]) -> None:
        self.app = app
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope.get("path", "")) if scope["type"] == "http" else None
        if limit is None or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        field_name = "images" if "batch" in scope["path"] else "image"
        content_type = _header(scope, b"content-type") or ""
        if content_type.split(";")[0].strip().lower() != "multipart/form-data":
            message = missing_upload_message(field_name, batch=field_name == "images")
            await _send_json(send, 415, f"{message}; got Content-Type {content_type or 'none'!r}")
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, _body_too_large(int(declared), limit))
            return
        received = 0
        over = False
        replaced = False  # our own answer was sent instead of the app's
        reached = [False]

        async def limited_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        held: list[bytes] | None = None  # body of an unparsed-request answer being replaced
        held_status = 0

        async def guarded_send(message: Message) -> None:
            nonlocal replaced, held, held_status
            if replaced:
                return
            if message["type"] == "http.response.start":
                if over:
                    replaced = True
                    await _send_json(send, 413, _body_too_large(None, limit))
                    return
                if not reached[0] and message.get("status") in (400, 500):
                    held, held_status = [], int(message["status"])
                    return
            elif held is not None and message["type"] == "http.response.body":
                held.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    replaced = True
                    await _send_json(send, 400, *_unparsed(field_name, held_status, held))
                return
            await send(message)

        token = _HANDLER_REACHED.set(reached)
        try:
            await self.app(scope, limited_receive, guarded_send)
        finally:
            _HANDLER_REACHED.reset(token)
        if over and not replaced:
            await _send_json(send, 413, _body_too_large(None, limit))


def _unparsed(field_name: str, status: int, body: list[bytes]) -> tuple[str, Any]:
    """Message and detail for a request that BentoML refused before the endpoint ran."""
    if status == 400:  # pydantic validation: usually the file field is missing
        try:
            detail = json.loads(b"".join(body)).get("detail")
        except (ValueError, AttributeError):
            detail = None
        return missing_upload_message(field_name, batch=field_name == "images"), detail
    logger.warning("BentoML could not parse a request for field %r", field_name)
    message = (
        f"the request could not be read as an upload: send each image as a file in "
        f"multipart/form-data field '{field_name}' (not under another name, not as a text "
        f"field or a URL), for example curl -F {field_name}=@photo.jpg URL"
    )
    return message, None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _body_too_large(size: int | None, limit: int) -> str:
    what = f"is {_megabytes(size)}" if size is not None else "grew"
    return (
        f"the request body {what}, over the limit of {_megabytes(limit)} for this endpoint; "
        "send smaller files (or fewer per request)"
    )


async def _send_json(send: Send, status: int, message: str, detail: Any = None) -> None:
    content: dict[str, Any] = {"error": message, "status": status}
    if detail is not None:
        content["detail"] = detail
    body = json.dumps(content).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
