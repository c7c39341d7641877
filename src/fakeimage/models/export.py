"""Exporting a detector to ONNX for serving, checked against Keras before it is trusted.

The graph takes uint8 images (N, 32, 32, 3) and returns the network's P(FAKE) (N,) and its
penultimate features (N, D), with flip averaging inside it when the detector uses it, so ONNX
Runtime computes exactly what the verdict and the uncertainty rule need and serving needs
neither TensorFlow nor Keras. Every export is compared with the Keras forward
pass on validation images; a graph that differs by more than PARITY_TOLERANCE on any image, or
flips any verdict, is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fakeimage.atomic import write_bytes
from fakeimage.data.images import IMAGE_SIZE
from fakeimage.detector.card import ModelCard, OnnxExport
from fakeimage.detector.folder import ONNX_FILE, DetectorFolder, write_folder
from fakeimage.detector.uncertainty import calibrate
from fakeimage.detector.verdict import is_fake
from fakeimage.errors import UserError
from fakeimage.models import keras_detector
from fakeimage.models.keras_detector import Detector, load_detector, traced_scores, with_features

OPSET = 17
PARITY_TOLERANCE = 1e-4
INPUT_NAME = "images"
CACHED_GRAPHS = 8
"""Converted graphs `converted_graph` keeps (the most recently used)."""


def onnx_bytes(model: keras.Model, *, flip_tta: bool) -> bytes:
    """The serialised ONNX graph of images -> (P(FAKE), penultimate features)."""
    import tf2onnx

    spec = (tf.TensorSpec([None, IMAGE_SIZE, IMAGE_SIZE, 3], tf.uint8, name=INPUT_NAME),)

    network = with_features(model)

    @tf.function(input_signature=spec)
    def forward(images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        probabilities, features = traced_scores(network, images, flip_tta)
        return tf.identity(probabilities, name="prob_fake"), tf.identity(features, "features")

    proto, _ = tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET)
    return proto.SerializeToString()


def _graph_key(model_file: Path, flip_tta: bool) -> str:
    """Everything a converted graph depends on: the network's bytes, the code that traces it,
    and the converter's settings and versions."""
    import tf2onnx

    digest = hashlib.sha256()
    for path in (model_file, Path(__file__), Path(keras_detector.__file__)):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    versions = [flip_tta, OPSET, tf2onnx.__version__, keras.__version__, tf.__version__]
    digest.update(json.dumps(versions).encode())
    return digest.hexdigest()


def converted_graph(detector: Detector, model_file: Path, cache: Path) -> bytes:
    """`onnx_bytes` of the detector whose network is `model_file`, kept in `cache`.

    Converting takes seconds, and promote converts the same champion again on every run that
    keeps it; a graph converted before from these very bytes, by this code and these versions,
    is the same graph. The parity check still runs on every export.
    """
    flip_tta = detector.card.flip_tta
    path = cache / f"{_graph_key(model_file, flip_tta)}.onnx"
    if path.is_file():
        os.utime(path)  # most recently used
        return path.read_bytes()
    graph = onnx_bytes(detector.model, flip_tta=flip_tta)
    write_bytes(path, graph)
    kept = sorted(cache.glob("*.onnx"), key=lambda entry: entry.stat().st_mtime, reverse=True)
    for stale in kept[CACHED_GRAPHS:]:
        stale.unlink(missing_ok=True)
    return graph


def export_onnx(
    detector: Detector, parity_images: np.ndarray, graph: bytes | None = None
) -> tuple[bytes, OnnxExport]:
    """The detector's ONNX graph (converted now unless given) and its export record, once
    checked against Keras."""
    from fakeimage.detector.onnx_runtime import onnx_session, run_session

    flip_tta = detector.card.flip_tta
    if graph is None:
        graph = onnx_bytes(detector.model, flip_tta=flip_tta)
    calibration = detector.card.calibration
    raw, features = detector.raw_scores(parity_images)
    onnx_raw, onnx_features = run_session(onnx_session(graph, threads=0), parity_images)
    expected, got = calibrate(calibration, raw), calibrate(calibration, onnx_raw)
    difference = float(np.abs(expected - got).max(initial=0.0))
    threshold = detector.threshold
    flipped = is_fake(expected, threshold) != is_fake(got, threshold)
    # The threshold is chosen among validation scores, so an image can sit on it exactly; a
    # float rounding there is a tie, not a changed verdict. Every other flip is refused.
    ties = flipped & (np.abs(expected - threshold) <= PARITY_TOLERANCE)
    changes = int((flipped & ~ties).sum())
    if difference > PARITY_TOLERANCE or changes:
        raise UserError(
            f"the ONNX export of {detector.name} differs from Keras by up to {difference:.2g} "
            f"(tolerance {PARITY_TOLERANCE:g}) and changes {changes} verdicts on "
            f"{len(parity_images)} validation images: not exported"
        )
    scale = 1.0 + float(np.abs(features).max(initial=0.0))
    if float(np.abs(features - onnx_features).max(initial=0.0)) > PARITY_TOLERANCE * scale:
        raise UserError(
            f"the ONNX export of {detector.name} computes features that differ from Keras' "
            f"by more than {PARITY_TOLERANCE:g} of their scale: not exported"
        )
    return graph, OnnxExport(
        file=ONNX_FILE,
        opset=OPSET,
        flip_tta=flip_tta,
        parity_images=len(parity_images),
        max_abs_difference=difference,
        verdict_changes=changes,
        threshold_ties=int(ties.sum()),
    )


PARITY_IMAGES = 512


def parity_images() -> np.ndarray:
    """Validation images to check an export on: the prepared split, else the embedded data."""
    import zipfile

    from fakeimage.data.dataset import load_split
    from fakeimage.data.images import load_model_input
    from fakeimage.data.sources.embedded import EMBEDDED_ARCHIVE
    from fakeimage.paths import split_path

    if split_path("val").is_file():
        return load_split(split_path("val")).x[:PARITY_IMAGES]
    # Run from elsewhere (`fakeimage predict` in a folder of photos): the checkout's own copy.
    checkout = Path(__file__).resolve().parents[3]
    found = [p for p in (EMBEDDED_ARCHIVE, checkout / EMBEDDED_ARCHIVE) if p.is_file()]
    if not found:
        raise UserError(
            f"no validation images to check an ONNX export on ({EMBEDDED_ARCHIVE} is missing): "
            "run the command from the project folder"
        )
    with zipfile.ZipFile(found[0]) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("test/") and "." in n)
        return np.stack([load_model_input(archive.read(n)) for n in names[:PARITY_IMAGES]])


def write_with_onnx(
    detector: Detector,
    source: DetectorFolder,
    target: Path,
    card: ModelCard,
    parity_images: np.ndarray,
    cache: Path | None = None,
) -> DetectorFolder:
    """Write `source` to `target` with `card` and the detector's ONNX graph, checked first
    (converted through `cache` when given: `converted_graph`)."""
    graph = converted_graph(detector, source.model_file, cache) if cache else None
    graph, record = export_onnx(detector, parity_images, graph)
    return write_folder(
        target,
        card.replace(onnx=record),
        model=source.model_file,
        record=source.training_record(),
        onnx=graph,
        stats=detector.stats,
    )


def with_onnx(path: Path, scratch: Path) -> Path:
    """The folder itself if it has a checked ONNX graph, else a copy in scratch that has one."""
    if DetectorFolder(path).has_onnx():
        return path
    detector = load_detector(path)
    copy = write_with_onnx(
        detector, DetectorFolder(path), scratch / path.name, detector.card, parity_images()
    )
    return copy.path
