"""Exporting a detector to ONNX for serving, checked against Keras before it is trusted.

The graph takes uint8 images (N, 32, 32, 3) and returns the network's P(FAKE) (N,) and its
penultimate features (N, D), with flip averaging inside it when the detector uses it, so ONNX
Runtime computes exactly what the verdict and the uncertainty rule need and serving needs
neither TensorFlow nor Keras. Every export is compared with the Keras forward
pass on validation images; a graph that differs by more than PARITY_TOLERANCE on any image, or
flips any verdict, is refused.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fakeimage.atomic import write_bytes
from fakeimage.data.images import IMAGE_SIZE
from fakeimage.errors import UserError
from fakeimage.models.card import ONNX_FILE, OnnxExport
from fakeimage.models.inference import Detector, traced_scores, with_features
from fakeimage.models.uncertainty import calibrate
from fakeimage.models.verdict import is_fake

OPSET = 17
PARITY_TOLERANCE = 1e-4
INPUT_NAME = "images"


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


def export_onnx(detector: Detector, path: Path, parity_images: np.ndarray) -> OnnxExport:
    """Write the detector's ONNX graph to path after checking it against Keras."""
    from fakeimage.models.onnx_runtime import onnx_session, run_session

    graph = onnx_bytes(detector.model, flip_tta=detector.card.flip_tta if detector.card else False)
    calibration = detector.card.calibration if detector.card else None
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
    write_bytes(path, graph)
    return OnnxExport(
        file=path.name,
        opset=OPSET,
        flip_tta=detector.card.flip_tta if detector.card else False,
        parity_images=len(parity_images),
        max_abs_difference=difference,
        verdict_changes=changes,
        threshold_ties=int(ties.sum()),
    )


PARITY_IMAGES = 512


def parity_images() -> np.ndarray:
    """Validation images to check an export on: the prepared split, else the embedded data."""
    import zipfile

    from fakeimage.data.images import load_model_input
    from fakeimage.data.preprocess import load_split
    from fakeimage.data.sources.embedded import EMBEDDED_ARCHIVE
    from fakeimage.paths import split_path

    if split_path("val").is_file():
        return load_split(split_path("val")).x[:PARITY_IMAGES]
    with zipfile.ZipFile(EMBEDDED_ARCHIVE) as archive:
        names = sorted(n for n in archive.namelist() if n.startswith("test/") and "." in n)
        return np.stack([load_model_input(archive.read(n)) for n in names[:PARITY_IMAGES]])


def with_onnx(folder: Path, scratch: Path) -> Path:
    """The folder itself if it has a checked ONNX graph, else a copy in scratch that has one."""
    import shutil

    from fakeimage.models.card import ModelCard
    from fakeimage.models.inference import load_detector

    card = ModelCard.load(folder)
    if card.onnx is not None and (folder / card.onnx.file).is_file():
        return folder
    copy = scratch / folder.name
    shutil.copytree(folder, copy)
    record = export_onnx(load_detector(copy), copy / ONNX_FILE, parity_images())
    card.model_copy(update={"onnx": record}).save(copy)
    return copy
