"""The served detector in BentoML's model store, under a tag that names its registry version.

The service declares the model it serves (`bentoml.models.BentoModel(tag)`), so a Bento records
exactly that model: `bentoml list` shows its size, `bentoml models list` its versions, and the
Bento served from the store anywhere loads that model and no other. The tag reaches the service
only as the Bento argument `model_tag`: `fakeimage serve` and `fakeimage bento` store the folder
here first (`serving.launch`) and pass `--arg model_tag=TAG`; importing the service reads no
folder and writes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import IDENTITY_FILES, DetectorFolder, is_detector_folder
from fakeimage.detector.onnx_runtime import OnnxDetector, load_onnx_detector
from fakeimage.errors import UserError

STORE_NAME = "fake-image-detector"
logger = logging.getLogger("bentoml.fakeimage")


def bento_tag(folder: Path, card: ModelCard) -> str:
    """`fake-image-detector:v<registry version>-<8 hex of the sha256 of model and card>`.

    The card is hashed too: a re-evaluated model (new calibration, threshold or uncertainty
    rule) is a different served model even when its weights are the same.
    """
    hasher = hashlib.sha256()
    for name in IDENTITY_FILES:
        hasher.update(hashlib.sha256((folder / name).read_bytes()).digest())
    digest = hasher.hexdigest()[:8]
    version = re.sub(r"[^a-z0-9._-]+", "-", card.version.lower())[:40]
    return f"{STORE_NAME}:v{version}-{digest}"


def store_detector(folder: Path, add_onnx: Callable[[Path], Path] | None = None) -> str:
    """Put a detector folder into BentoML's model store (once per tag); return the tag.

    A folder without an ONNX graph goes through `add_onnx` (folder -> a folder with one), but
    only when the tag is not stored yet: a second start does not export again.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    card = DetectorFolder(folder).card()
    tag = bento_tag(folder, card)
    try:
        bentoml.models.get(tag)
        return tag
    except NotFound:
        pass
    if not DetectorFolder(folder).has_onnx() and add_onnx:
        folder = add_onnx(folder)
        card = DetectorFolder(folder).card()
    if not DetectorFolder(folder).has_onnx():
        raise UserError(
            f"{folder} has no ONNX graph to serve: start the service with `fakeimage serve` "
            "(or `make serve`), which exports one, or run `make run`"
        )
    labels = {"registry_version": card.version, "arch": card.architecture.arch}
    metadata = {"name": card.name, "version": card.version, "run_id": card.run_id or ""}
    with bentoml.models.create(tag, labels=labels, metadata=metadata) as stored:
        for path in DetectorFolder(folder).files():
            shutil.copyfile(path, Path(stored.path) / path.name)
    return tag


def local_detector_folder(requested: str | Path | None = None) -> Path:
    """`requested`, else FAKEIMAGE_MODEL's folder, else models/champion, else the shipped
    models/reference."""
    from fakeimage.paths import CHAMPION_DIR, REFERENCE_DIR, project_root

    if requested := requested or os.environ.get("FAKEIMAGE_MODEL"):
        folder = Path(requested)
        if not is_detector_folder(folder):
            raise UserError(f"{requested} is not a model folder (it has no card.json)")
        return folder
    for folder in (CHAMPION_DIR, REFERENCE_DIR):
        for candidate in (folder, project_root() / folder):
            if is_detector_folder(candidate):
                return candidate
    raise UserError("no model to serve: run `make run` (models/champion) or pass --model FOLDER")


def load_stored_detector(path: Path, tag: str, role: str, threads: int) -> OnnxDetector:
    """A stored model's ONNX graph, loaded and warmed up, said in the server log.

    ONNX Runtime gets `threads` intra-op threads (0 keeps its default, all cores).
    """
    detector = load_onnx_detector(path, threads)
    detector.assess(np.zeros((1, 32, 32, 3), dtype=np.uint8))
    logger.info(
        "%s: serving model %s version %s (threshold %.4f) from BentoML model %s; "
        "ONNX Runtime threads: %s",
        role,
        detector.name,
        detector.version,
        detector.threshold,
        tag,
        threads or "default",
    )
    return detector
