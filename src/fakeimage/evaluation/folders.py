"""Evaluating a detector on a folder of labelled images: what `fakeimage evaluate` runs.

Sub-folders of REAL/ and FAKE/ are sources, reported one by one beside the totals.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fakeimage.data.dataset import Dataset, load_split
from fakeimage.data.images import IMAGE_SIZE, BadImageError, decode_image, to_model_input
from fakeimage.data.layout import CLASS_NAMES, list_labelled_files
from fakeimage.data.sources.archives import extract_archive
from fakeimage.detector.card import UncertaintyRule
from fakeimage.detector.scoring import Assessment, CardedDetector
from fakeimage.detector.uncertainty import uncertain_reasons
from fakeimage.detector.verdict import predicted_labels
from fakeimage.errors import UserError
from fakeimage.evaluation.metrics import classification_metrics
from fakeimage.evaluation.robustness import robustness_table, worst_corruption


@dataclass(frozen=True)
class LabelledImages:
    """Model inputs with their labels, and what the uncertainty rule needs about each upload."""

    data: Dataset
    sizes: np.ndarray
    """(N, 2): width and height of each image before preprocessing."""
    sources: list[str]
    """The sub-folder of REAL/ or FAKE/ each image came from ("" when none)."""
    bad_files: int = 0


def load_labelled_images(location: Path, max_extract_mb: int = 4096) -> LabelledImages:
    """Images and labels from a prepared .npz split, a CIFAKE-layout folder, or a zip/tar.

    Sub-folders of REAL/ and FAKE/ are sources (FAKE/sd14, REAL/phone); unreadable files
    are skipped and counted.
    """
    if location.suffix == ".npz":
        data = load_split(location)
        sizes = np.full((len(data.y), 2), IMAGE_SIZE)
        return LabelledImages(data, sizes, [str(source) for source in data.sources])
    if location.is_dir():
        return _decode_folder(location)
    with tempfile.TemporaryDirectory(prefix="fakeimage-eval-") as scratch:
        extracted = Path(scratch) / "data"
        extract_archive(location, extracted, max_bytes=max_extract_mb * 2**20)
        return _decode_folder(extracted)


def _decode_folder(root: Path) -> LabelledImages:
    pixels, labels, sizes, sources, bad = [], [], [], [], 0
    for item in list_labelled_files(root):
        try:
            image = decode_image(item.path)
            pixels.append(to_model_input(image))
        except (BadImageError, OSError):
            bad += 1
            continue
        labels.append(item.label)
        sizes.append(image.size)
        sources.append(item.source)
    if not pixels:
        raise UserError(f"no readable image under {root}")
    data = Dataset(np.stack(pixels), np.asarray(labels, np.uint8))
    return LabelledImages(data, np.asarray(sizes, np.int64), sources, bad)


def uncertain_images(
    rule: UncertaintyRule | None, assessment: Assessment, sizes: np.ndarray
) -> list[list[str]]:
    """Per image, the codes of every reason its answer is uncertain (as the service says)."""
    return [
        [
            reason.code
            for reason in uncertain_reasons(
                rule, float(prob), float(distance), float(detail), int(w), int(h)
            )
        ]
        for prob, distance, detail, (w, h) in zip(
            assessment.prob_fake, assessment.distance, assessment.detail, sizes, strict=True
        )
    ]


def source_report(
    labels: np.ndarray,
    prob_fake: np.ndarray,
    uncertain: np.ndarray,
    sources: list[str],
    threshold: float,
) -> dict[str, dict[str, float | int | None]]:
    """Per source (class/sub-folder) and in total: accuracy, recall, uncertain and confidently
    wrong shares, and accuracy on the certain answers."""
    labels = np.asarray(labels).astype(int)
    right = predicted_labels(prob_fake, threshold) == labels
    uncertain = np.asarray(uncertain, bool)
    names = np.array(
        [
            f"{CLASS_NAMES[y]}/{s}" if s else CLASS_NAMES[y]
            for y, s in zip(labels, sources, strict=True)
        ]
    )
    groups = {name: names == name for name in sorted(set(names))} | {
        "all": np.ones(len(labels), bool)
    }
    report: dict[str, dict[str, float | int | None]] = {}
    for name, members in groups.items():
        certain = members & ~uncertain
        row: dict[str, float | int | None] = {
            "n": int(members.sum()),
            "accuracy": float(right[members].mean()),
            "uncertain": float(uncertain[members].mean()),
            "confidently_wrong": float((~right & certain)[members].mean()),
            "certain_accuracy": float(right[certain].mean()) if certain.any() else None,
        }
        if name != "all":
            row["recall"] = row["accuracy"]  # one class per source: the share found
        report[name] = row
    return report


def evaluate_folder(
    detector: CardedDetector,
    location: Path,
    *,
    threshold: float | None = None,
    robustness: bool = False,
) -> dict[str, Any]:
    """The full report of `fakeimage evaluate`: scores, uncertain answers, per-source rows and,
    on request, the corruption sweep; at the detector's threshold unless one is given."""
    images = load_labelled_images(location)
    data = images.data
    threshold = detector.threshold if threshold is None else threshold
    assessment = detector.assess(data.x)
    reasons = uncertain_images(detector.card.uncertainty, assessment, images.sizes)
    uncertain = np.array([bool(codes) for codes in reasons])
    sources = source_report(data.y, assessment.prob_fake, uncertain, images.sources, threshold)
    report: dict[str, Any] = {
        "bad_files": images.bad_files,
        **classification_metrics(data.y, assessment.prob_fake, threshold),
        "coverage": 1.0 - float(uncertain.mean()),
        "certain_accuracy": sources["all"]["certain_accuracy"],
        "reasons": {
            code: sum(code in r for r in reasons)
            for code in sorted({c for r in reasons for c in r})
        },
        "sources": sources,
    }
    if robustness:
        report["robustness"] = robustness_table(detector.predict_proba, data, threshold, 15)
        report["worst_corruption"], report["worst_accuracy"] = worst_corruption(
            report["robustness"]
        )
    return report


def load_scorer(model: str, scratch: Path) -> CardedDetector:
    """A model folder or `models:/` URI, scored through ONNX Runtime when the folder has its
    checked graph (as the service scores, without TensorFlow's seconds of start-up), else
    through Keras."""
    from fakeimage.detector.folder import DetectorFolder
    from fakeimage.detector.onnx_runtime import load_onnx_detector

    folder = Path(model)
    if model.startswith(("models:/", "runs:/")):
        from fakeimage.registry.store import fetch_detector

        folder = fetch_detector(model, scratch).path
    if DetectorFolder(folder).has_onnx():
        return load_onnx_detector(folder)
    from fakeimage.startup import import_tensorflow

    import_tensorflow()
    from fakeimage.models.keras_detector import load_detector

    return load_detector(folder)
