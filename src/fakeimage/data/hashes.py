"""Content hashes of decoded images, and the compact record of which images a model trained on.

Every image is identified by the sha256 of its decoded 32x32 pixels, so the same picture is the
same image whatever its file name or format. A model carries the first 64 bits of the hash of
each of its training images (8 bytes an image, sorted): enough to tell exactly which images of
any later split it has seen (a false match among 10^5 x 10^5 pairs has odds below 10^-9).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np

from fakeimage.atomic import write_bytes
from fakeimage.errors import UserError


def image_digest(pixels: np.ndarray) -> str:
    """The content hash of one decoded image (uint8, 32x32x3)."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def short_hashes(images: np.ndarray) -> np.ndarray:
    """The 64-bit prefixes of the content hashes of images (N, 32, 32, 3), as uint64."""
    return np.array(
        [int(image_digest(pixels)[:16], 16) for pixels in images], dtype=np.uint64
    ).reshape(-1)


def training_record(images: np.ndarray) -> np.ndarray:
    """The record of a model's training images: their sorted, distinct hash prefixes."""
    return np.unique(short_hashes(images))


def save_training_record(path: Path, record: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(record, dtype=np.uint64), allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def load_training_record(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UserError(
            f"{path} not found: a model folder must carry the record of its training images"
        )
    record = np.load(path, allow_pickle=False)
    if record.dtype != np.uint64 or record.ndim != 1:
        raise UserError(f"{path} is not a training-image record (sorted uint64 hash prefixes)")
    return record


def seen_in_training(images: np.ndarray, record: np.ndarray) -> np.ndarray:
    """A boolean mask: which of the images are in the training record."""
    return np.isin(short_hashes(images), record)
