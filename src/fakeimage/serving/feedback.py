"""POST /feedback: a person says a verdict was wrong; the service keeps it as labelled data.

Every report is appended to `<feedback folder>/reports.jsonl` (request id, true label,
source, time, the model that answered here). The image is kept only when the caller sends it
with `consent=true`: then it lands, its metadata (EXIF, GPS, comments) removed and its pixels
untouched, as `<LABEL>/<source>/<request id>.<ext>` with its provenance beside it
(`<request id>.json`), the layout the pipeline and `fakeimage learn`
take as a source. An image sent without consent is refused, not silently dropped.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from fakeimage.atomic import write_bytes, write_text
from fakeimage.data.images import BadImageError, decode_image
from fakeimage.data.layout import CLASS_NAMES
from fakeimage.data.metadata import strip_metadata
from fakeimage.serving.errors import RequestError
from fakeimage.serving.request_ids import RequestIds, image_digest
from fakeimage.serving.schemas import ModelInfo
from fakeimage.serving.settings import MB, ServingSettings
from fakeimage.serving.uploads import Upload, read_upload

REPORTS = "reports.jsonl"
DEFAULT_SOURCE = "reported"
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
_SOURCE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
_SUFFIXES = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}
_SUFFIXES |= {"BMP": ".bmp", "TIFF": ".tif"}
_APPEND = threading.Lock()


class Receipt(BaseModel):
    """The answer of /feedback."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    request_id: str
    label: str
    source: str
    image_kept: bool
    """True when the image was sent with consent=true and stored for retraining."""


def take_feedback(
    settings: ServingSettings,
    model: ModelInfo,
    ids: RequestIds,
    request_id: str,
    label: str,
    source: str,
    consent: bool,
    image: Upload | None,
) -> Receipt:
    """Check a report, then store it (and the image, with consent)."""
    folder = settings.feedback_dir
    if folder is None:
        raise RequestError(503, "feedback is switched off here (FAKEIMAGE_FEEDBACK_DIR is empty)")
    request_id = request_id.strip().lower()
    if not _REQUEST_ID.fullmatch(request_id):
        raise RequestError(422, "request_id must be the 32-hex-digit id of an answer")
    if not ids.issued(request_id):
        raise RequestError(
            422, "request_id is not one this service gave: copy it from the answer you report"
        )
    label = label.strip().upper()
    if label not in CLASS_NAMES:
        raise RequestError(422, f"label must be REAL or FAKE (the true class), not {label!r}")
    source = source.strip().lower() or DEFAULT_SOURCE
    if not _SOURCE.fullmatch(source):
        raise RequestError(
            422, "source must be 1-40 lower-case letters, digits, '_', '.' or '-' (e.g. sdxl)"
        )
    if image is not None and not consent:
        raise RequestError(
            422,
            "an image was sent without consent=true: send consent=true to let us keep it "
            "for retraining, or leave the image out",
        )
    if image is None and consent:
        raise RequestError(422, "consent=true but no image: send the image as field 'image'")
    stored = _store_image(folder, ids, request_id, label, source, model, image, settings)
    report = _provenance(request_id, label, source, model) | {"image_kept": stored is not None}
    line = json.dumps(report) + "\n"
    if stored is None:
        _check_room(folder, len(line), settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _APPEND, (folder / REPORTS).open("a") as handle:
            handle.write(line)  # one write: a whole line or nothing
        _USAGE.add(folder, len(line))
    except OSError as exc:
        for path in (stored, stored.with_suffix(".json")) if stored else ():
            path.unlink(missing_ok=True)  # no image without its report
        raise RequestError(503, f"feedback cannot be stored here now ({exc.strerror})") from None
    return Receipt(request_id=request_id, label=label, source=source, image_kept=stored is not None)


def _store_image(
    folder: Path,
    ids: RequestIds,
    request_id: str,
    label: str,
    source: str,
    model: ModelInfo,
    image: Upload | None,
    settings: ServingSettings,
) -> Path | None:
    """The consented image, stored with its provenance and without its metadata (EXIF, GPS:
    `data.metadata`, pixels untouched); its path."""
    if image is None:
        return None
    data = read_upload(image, settings.max_upload_bytes, image.name)
    if not ids.answered(request_id, image_digest(data)):
        raise RequestError(
            422,
            "this image is not the one answered under request_id: send the very file you "
            "uploaded (not a re-saved or resized copy)",
        )
    try:
        kind = decode_image(data, max_pixels=settings.max_pixels).format or ""
    except (BadImageError, OSError) as exc:
        raise RequestError(422, f"the image cannot be read: {exc}") from None
    if kind not in _SUFFIXES:
        raise RequestError(415, f"{kind} images are not kept: send JPEG, PNG, WebP, GIF or TIFF")
    target = folder / label / source / f"{request_id}{_SUFFIXES[kind]}"
    if any(folder.glob(f"*/*/{request_id}.*")):  # under any label and source
        raise RequestError(409, "this answer was already reported with its image")
    _check_room(folder, len(data), settings)
    cleaned = strip_metadata(data)
    try:
        decode_image(cleaned, max_pixels=settings.max_pixels)
    except (BadImageError, OSError):
        raise RequestError(422, "the image's metadata could not be removed: not kept") from None
    provenance = _provenance(request_id, label, source, model) | {"file": image.name}
    try:
        write_bytes(target, cleaned)
        write_text(target.with_suffix(".json"), json.dumps(provenance, indent=2) + "\n")
        _USAGE.add(folder, len(cleaned))
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise RequestError(503, f"feedback cannot be stored here now ({exc.strerror})") from None
    return target


class _Usage:
    """The feedback folder's size: walked at most once a minute, plus the images and report
    lines this process wrote since, so that a report does not stat every file of a folder that
    may hold 100,000. The bound is approximate by design: other workers' writes and the small
    provenance files are counted at the next walk."""

    WALK_EVERY_S = 60.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sizes: dict[Path, tuple[float, int]] = {}

    def size(self, folder: Path) -> int:
        with self._lock:
            walked, size = self._sizes.get(folder, (-self.WALK_EVERY_S, 0))
            if time.monotonic() - walked >= self.WALK_EVERY_S:
                walked, size = time.monotonic(), _walk(folder)
                self._sizes[folder] = walked, size
            return size

    def add(self, folder: Path, size: int) -> None:
        with self._lock:
            walked, before = self._sizes.get(folder, (-self.WALK_EVERY_S, 0))
            self._sizes[folder] = walked, before + size


def _check_room(folder: Path, size: int, settings: ServingSettings) -> None:
    if _USAGE.size(folder) + size > settings.feedback_max_mb * MB:
        raise RequestError(
            507, f"the feedback folder is full ({settings.feedback_max_mb:g} MB): not kept"
        )


def _walk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


_USAGE = _Usage()


def _provenance(request_id: str, label: str, source: str, model: ModelInfo) -> dict:
    return {
        "request_id": request_id,
        "label": label,
        "source": source,
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "model": model.name,
        "version": model.version,
    }
