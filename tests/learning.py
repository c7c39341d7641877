"""What the tests of learning a new generator share: a copy of the pipeline run that learns
quickly, and a "generator" no model here was trained on (the embedded data's photographs with
a fine checkerboard laid over them, what GAN up-sampling leaves)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from repo_copy import PipelineRun


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


def quick_learning_copy(pipeline: PipelineRun, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the pipeline run whose `fakeimage learn` takes 2 epochs with half replay, and
    the environment to run its commands in."""
    repo = tmp_path / "repo"

    def short(params: dict) -> None:
        params["learn"].update(epochs=2, replay=0.5)

    pipeline.copy_to(repo, short)
    env = pipeline.env | {"PYTHONPATH": str(repo / "src")}
    env["BENTOML_HOME"] = str(tmp_path / "bentoml")
    return repo, env
