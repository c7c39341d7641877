"""Samples written as CIFAKE writes its images, each generator a FAKE source of its own.

`<zoo>/train/FAKE/<generator>/00000.jpg` and `<zoo>/test/FAKE/<generator>/00000.jpg`: a
sub-folder of FAKE/ is a source in fakeimage.data.layout, so the zoo reads like any CIFAKE
folder holding FAKE images only. Every file is baseline JPEG at quality 75 with 4:2:0 chroma
(`encode_jpeg`, CIFAKE's settings), so the detector cannot tell zoo images from CIFAKE's by
their encoding. The folder is built beside its place and renamed into it when whole.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image

from fakeimage.atomic import replace_directory
from fakeimage.data.images import encode_jpeg

SPLITS = ("train", "test")


@contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A fresh folder beside `target` that replaces it when the block ends without error;
    on an error it is removed and `target` stays as it was."""
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.old-*"):  # left by a kill
        for stale in target.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    staging.mkdir(parents=True)
    try:
        yield staging
        replace_directory(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_source(root: Path, name: str, split: str, images: np.ndarray) -> int:
    """Write uint8 images (n, 32, 32, 3) as `<root>/<split>/FAKE/<name>/NNNNN.jpg`."""
    folder = root / split / "FAKE" / name
    folder.mkdir(parents=True, exist_ok=True)
    for index, pixels in enumerate(images):
        (folder / f"{index:05d}.jpg").write_bytes(encode_jpeg(pixels))
    return len(images)


def jpeg_round_trip(images: np.ndarray) -> np.ndarray:
    """The images as a reader of the written files sees them: encoded as written, decoded."""
    decoded = [np.asarray(Image.open(io.BytesIO(encode_jpeg(pixels)))) for pixels in images]
    return np.stack(decoded) if decoded else np.asarray(images)
