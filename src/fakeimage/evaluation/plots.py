"""Plot data for DVC (JSON records) and PNG figures for MLflow, from the same curves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and in CI

import matplotlib.pyplot as plt
import numpy as np
from sklearn import metrics as skm

from fakeimage.data.layout import CLASS_NAMES
from fakeimage.detector.verdict import predicted_labels
from fakeimage.evaluation.metrics import calibration_curve
from fakeimage.figures import save_figure


def plot_records(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, bins: int
) -> dict[str, list[dict[str, Any]]]:
    """The records behind each DVC plot: ROC, precision-recall, confusion, calibration."""
    fpr, tpr, roc_thresholds = skm.roc_curve(labels, probabilities)
    precision, recall, _ = skm.precision_recall_curve(labels, probabilities)
    predictions = predicted_labels(probabilities, threshold)
    return {
        "roc": [
            {"fpr": float(f), "tpr": float(t), "threshold": float(min(h, 1.0))}
            for f, t, h in zip(fpr, tpr, roc_thresholds, strict=True)
        ],
        "precision_recall": [
            {"recall": float(r), "precision": float(p)}
            for r, p in zip(recall, precision, strict=True)
        ],
        "confusion": [
            {"actual": CLASS_NAMES[a], "predicted": CLASS_NAMES[p]}
            for a, p in zip(labels.astype(int), predictions, strict=True)
        ],
        "calibration": calibration_curve(labels, probabilities, bins),
    }


def draw_figures(
    records: dict[str, list[dict[str, Any]]],
    metrics: dict[str, Any],
    robustness: dict[str, dict[str, Any]],
    directory: Path,
) -> list[Path]:
    """PNG figures of the evaluation (confusion, ROC, PR, calibration, robustness, coverage)."""
    paths = []

    figure, axis = plt.subplots(figsize=(4, 4))
    matrix = np.asarray(metrics["confusion_matrix"])
    axis.imshow(matrix, cmap="Blues")
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axis.text(col, row, f"{count:,}", ha="center", va="center", color=colour)
    axis.set(xticks=[0, 1], yticks=[0, 1], xticklabels=CLASS_NAMES, yticklabels=CLASS_NAMES)
    axis.set(
        xlabel="predicted", ylabel="actual", title=f"Confusion (t = {metrics['threshold']:.3f})"
    )
    paths.append(save_figure(figure, directory / "confusion_matrix.png"))

    figure, axis = plt.subplots(figsize=(4, 4))
    axis.plot([r["fpr"] for r in records["roc"]], [r["tpr"] for r in records["roc"]])
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axis.set(xlabel="false positive rate", ylabel="true positive rate (FAKE)")
    axis.set_title(f"ROC, AUC = {metrics['roc_auc']:.4f}")
    paths.append(save_figure(figure, directory / "roc.png"))

    figure, axis = plt.subplots(figsize=(4, 4))
    pr = records["precision_recall"]
    axis.plot([r["recall"] for r in pr], [r["precision"] for r in pr])
    axis.set(xlabel="recall (FAKE)", ylabel="precision", title=f"PR, AP = {metrics['pr_auc']:.4f}")
    paths.append(save_figure(figure, directory / "precision_recall.png"))

    figure, axis = plt.subplots(figsize=(4, 4))
    calibration = records["calibration"]
    axis.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axis.plot(
        [c["mean_predicted"] for c in calibration],
        [c["fraction_fake"] for c in calibration],
        marker="o",
    )
    axis.set(xlabel="mean P(FAKE)", ylabel="observed FAKE fraction")
    axis.set_title(f"Calibration, ECE = {metrics['ece']:.4f}")
    paths.append(save_figure(figure, directory / "calibration.png"))

    # Horizontal bars: a corruption's name is read along its own row, however many there are.
    names = ["clean", *robustness]
    accuracy = [metrics["accuracy"], *(r["accuracy"] for r in robustness.values())]
    figure, axis = plt.subplots(figsize=(6, 0.9 + 0.3 * len(names)))
    bars = axis.barh(names, accuracy, color=["tab:green", *["tab:blue"] * len(robustness)])
    axis.bar_label(bars, labels=[f"{a:.3f}" for a in accuracy], padding=2, fontsize=8)
    axis.invert_yaxis()  # clean first, then the sweep in its order
    axis.set(xlabel="test accuracy", xlim=(0, 1.1), title="Robustness to corruptions")
    paths.append(save_figure(figure, directory / "robustness.png"))

    if records.get("sources"):
        paths.append(_draw_sources(records["sources"], directory / "sources.png"))

    if "coverage" in records:
        figure, axis = plt.subplots(figsize=(4, 4))
        curve = records["coverage"]
        axis.plot([c["coverage"] for c in curve], [c["accuracy"] for c in curve])
        axis.set(xlabel="coverage (share of answers kept)", ylabel="accuracy on those kept")
        axis.set_title("Selective accuracy")
        paths.append(save_figure(figure, directory / "coverage_accuracy.png"))
    return paths


def _draw_sources(rows: list[dict[str, Any]], path: Path) -> Path:
    """Per source, its test images split three ways: right and certain, uncertain, and wrong
    without doubt (the answers that mislead)."""
    rows = [row for row in rows if row["source"] != "all"]
    figure, axis = plt.subplots(figsize=(6, 0.8 + 0.45 * len(rows)))
    names = [f"{row['source']} ({row['n']:,})" for row in rows]
    uncertain = np.array([row["uncertain"] for row in rows])
    wrong = np.array([row["confidently_wrong"] for row in rows])
    left = np.zeros(len(rows))
    for values, colour, label in (
        (1 - uncertain - wrong, "tab:green", "right"),
        (uncertain, "tab:grey", "uncertain"),
        (wrong, "tab:red", "confidently wrong"),
    ):
        axis.barh(names, values, left=left, color=colour, label=label)
        left += values
    axis.set(xlim=(0, 1), xlabel="share of the source's test images", title="Per source")
    axis.invert_yaxis()
    axis.legend(loc="lower right", fontsize="small")
    return save_figure(figure, path)


def draw_history(history: dict[str, list[float]], path: Path) -> Path:
    """Per-epoch loss and accuracy, train vs validation."""
    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(8, 3.5))
    epochs = range(1, len(history["loss"]) + 1)
    for axis, key in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.plot(epochs, history[key], label="train")
        axis.plot(epochs, history[f"val_{key}"], label="validation")
        axis.set(xlabel="epoch", ylabel=key)
        axis.legend()
    return save_figure(figure, path)
