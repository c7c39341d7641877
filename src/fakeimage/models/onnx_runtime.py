"""Scoring with ONNX Runtime: what serving, `fakeimage predict` and the page run.

Imports neither TensorFlow nor Keras, so a server process holds only ONNX Runtime and the
model. A detector folder carries `model.onnx` (written by `fakeimage.models.export` when a
model is exported) beside its card; the card says which threshold turns scores into verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakeimage.errors import UserError
from fakeimage.models.card import ModelCard

_IMAGE_SHAPE = (32, 32, 3)
_CHUNK = 512


def onnx_session(graph: bytes | Path, threads: int) -> Any:
    """An ONNX Runtime session on the CPU; threads 0 keeps its default (all cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: start-up notices are not ours to print
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = graph if isinstance(graph, bytes) else str(graph)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_session(session: Any, images: np.ndarray) -> np.ndarray:
    """P(FAKE) for uint8 images (N, 32, 32, 3), as float64."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if images.ndim != 4 or images.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(f"expected uint8 images (N, 32, 32, 3), got {images.shape}")
    if len(images) == 0:
        return np.zeros(0, dtype=np.float64)
    name = session.get_inputs()[0].name
    parts = [
        session.run(None, {name: images[i : i + _CHUNK]})[0].reshape(-1)
        for i in range(0, len(images), _CHUNK)
    ]
    return np.concatenate(parts).astype(np.float64)


@dataclass
class OnnxDetector:
    """A detector's ONNX graph and card: the served form of a model."""

    session: Any
    card: ModelCard

    @property
    def threshold(self) -> float:
        return self.card.threshold

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def version(self) -> str:
        return self.card.version

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return run_session(self.session, images)


def load_onnx_detector(folder: Path, threads: int = 0) -> OnnxDetector:
    card = ModelCard.load(folder)
    if card.onnx is None or not (folder / card.onnx.file).is_file():
        raise UserError(
            f"{folder} has no ONNX graph: export one with `make run` (promote writes "
            "models/champion with it) or `fakeimage export-onnx --model FOLDER`"
        )
    return OnnxDetector(onnx_session(folder / card.onnx.file, threads), card)
