"""Scoring with ONNX Runtime: what serving, `fakeimage predict` and the page run.

Imports neither TensorFlow nor Keras, so a server process holds only ONNX Runtime and the
model. A detector folder carries `model.onnx` (written by `fakeimage.models.export` when a
model is exported, see `fakeimage.detector.folder`) beside its card; the card says which
threshold turns scores into verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import DetectorFolder
from fakeimage.detector.scoring import CardedDetector
from fakeimage.detector.uncertainty import FeatureStats
from fakeimage.errors import UserError

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


def run_session(session: Any, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The network's P(FAKE) (N,) and features (N, D) for uint8 images, as float64."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    if images.ndim != 4 or images.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(f"expected uint8 images (N, 32, 32, 3), got {images.shape}")
    name = session.get_inputs()[0].name
    if len(images) == 0:
        width = session.get_outputs()[1].shape[-1]
        return np.zeros(0, dtype=np.float64), np.zeros((0, width), dtype=np.float64)
    parts = [
        session.run(None, {name: images[i : i + _CHUNK]}) for i in range(0, len(images), _CHUNK)
    ]
    probabilities = np.concatenate([p.reshape(-1) for p, _ in parts]).astype(np.float64)
    features = np.concatenate([f for _, f in parts]).astype(np.float64)
    return probabilities, features


@dataclass
class OnnxDetector(CardedDetector):
    """A detector's ONNX graph, card and feature statistics: the served form of a model."""

    session: Any
    card: ModelCard
    stats: FeatureStats | None

    def raw_scores(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return run_session(self.session, images)


def load_onnx_detector(path: Path, threads: int = 0) -> OnnxDetector:
    folder = DetectorFolder(path)
    card = folder.card()
    if not folder.has_onnx():
        raise UserError(
            f"{path} has no ONNX graph: `make run` writes models/champion with one, and "
            "`fakeimage serve` or `fakeimage predict` export one on the way"
        )
    session = onnx_session(folder.onnx_file, threads)
    if len(session.get_outputs()) != 2:
        raise UserError(
            f"{folder.onnx_file} is an ONNX graph of an older version (no feature output): "
            "re-export it with `make run`"
        )
    return OnnxDetector(session, card, folder.feature_stats(card))
