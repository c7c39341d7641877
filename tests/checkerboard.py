"""A "generator" no model here was trained on, in a line: the embedded data's photographs with a
fine checkerboard laid over them (what GAN up-sampling leaves)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def checkered(repo: Path, target: Path, count: int, skip: int = 0) -> Path:
    """`count` REAL images of the embedded archive with a checkerboard laid over them."""
    target.mkdir(parents=True)
    pattern = np.where(np.add.outer(np.arange(32), np.arange(32)) % 2, 40, -40)[..., None]
    with zipfile.ZipFile(repo / "data" / "embedded" / "cifake-embedded.zip") as archive:
        names = sorted(n for n in archive.namelist() if "/REAL/" in n)[skip : skip + count]
        for index, name in enumerate(names):
            pixels = np.asarray(Image.open(io.BytesIO(archive.read(name))).convert("RGB"))
            pixels = np.clip(pixels.astype(int) + pattern, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(target / f"{index:04d}.png")
    return target
