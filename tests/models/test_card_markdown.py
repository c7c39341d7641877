"""The model card: rendered from the metadata promote writes, every section filled in."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fakeimage.registry.model_card import LIMITS, render_model_card

TEST = {
    "n": 2000,
    "threshold": 0.4321,
    "accuracy": 0.9135,
    "precision": 0.9012345,
    "recall": 0.93,
    "f1": 0.9154,
    "roc_auc": 0.97123,
    "pr_auc": 0.9688,
    "log_loss": 0.2234,
    "ece": 0.0312,
    "confusion_matrix": [[897, 103], [70, 930]],
}

METADATA: dict[str, Any] = {
    "name": "fake-image-detector",
    "version": "3",
    "alias": "champion",
    "run_id": "0123456789abcdef0123456789abcdef",
    "threshold": 0.4321,
    "threshold_policy": "max_accuracy",
    "flip_tta": False,
    "arch": "seed_cnn",
    "parameters": 159041,
    "macs": 5137920,
    "epochs_run": 10,
    "best_epoch": 8,
    "train_seconds": 95.4,
    "hardware": "Test CPU, 2 cores",
    "precision_policy": "mixed_bfloat16",
    "data_fingerprint": "f" * 64,
    "data": {
        "source": "archive",
        "splits": {
            "train": {"total": 16200, "REAL": 8100, "FAKE": 8100},
            "val": {"total": 1800, "REAL": 900, "FAKE": 900},
            "test": {"total": 2000, "REAL": 1000, "FAKE": 1000},
        },
    },
    "metrics": {"test": TEST, "val": {**TEST, "accuracy": 0.92}},
    "robustness": {
        "jpeg_q75": {"accuracy": 0.8123, "f1": 0.8, "roc_auc": 0.9, "log_loss": 0.5},
        "blur_r0.8": {"accuracy": 0.6001, "f1": 0.5, "roc_auc": 0.7, "log_loss": 1.2},
    },
    "params": {"model.arch": "seed_cnn", "train.epochs": "10", "train.learning_rate": "0.001"},
    "exported_at": "2025-01-01T00:00:00+00:00",
    "reproduce": "git checkout abc123 && dvc repro",
}


@pytest.fixture
def card() -> str:
    return render_model_card(copy.deepcopy(METADATA))


def _section(card: str, title: str) -> str:
    return card.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_header_names_the_model_version_and_threshold(card: str) -> None:
    assert card.startswith("# Model card: fake-image-detector (version 3)")
    assert ">= 0.4321" in card and "(max_accuracy)" in card
    assert "`seed_cnn`, 159,041 parameters" in card
    assert "5.1 M multiply-accumulates" in card
    assert "trained 10 epochs" in card and "epoch\n  8)" in card
    assert "1.6 minutes" in card and "Test CPU, 2 cores, in `mixed_bfloat16`" in card
    assert METADATA["run_id"] in card


def test_data_section_has_the_source_fingerprint_and_splits(card: str) -> None:
    data = _section(card, "Data")
    assert "source: archive" in data and "f" * 16 in data and "f" * 17 not in data
    assert "| split | REAL | FAKE | total |" in data
    assert "| train | 8,100 | 8,100 | 16,200 |" in data
    assert "| test | 1,000 | 1,000 | 2,000 |" in data


def test_metrics_table_lists_every_test_metric(card: str) -> None:
    metrics = _section(card, "Test metrics")
    assert "| metric | value |" in metrics
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "ece"):
        assert f"| {key} | {TEST[key]:.4f} |" in metrics
    assert "| accuracy | 0.9135 |" in metrics  # test, not validation (0.92)
    assert "897 REAL and 930 FAKE right; 103 REAL called FAKE, 70 FAKE" in metrics
    assert "(2,000 images)" in metrics


def test_robustness_table_has_a_row_per_corruption(card: str) -> None:
    robustness = _section(card, "Robustness")
    assert "| corruption | accuracy | F1 | ROC-AUC |" in robustness
    assert "| jpeg_q75 | 0.8123 | 0.8000 | 0.9000 |" in robustness
    assert "| blur_r0.8 | 0.6001 | 0.5000 | 0.7000 |" in robustness


def test_limits_params_and_reproduce_command(card: str) -> None:
    assert LIMITS.strip() in _section(card, "Known limits")
    assert "32x32" in LIMITS and "Stable Diffusion" in LIMITS
    params = _section(card, "Training parameters")
    assert "| model.arch | `seed_cnn` |" in params
    assert "| train.learning_rate | `0.001` |" in params
    reproduce = _section(card, "Reproduce")
    assert "```\ngit checkout abc123 && dvc repro\n```" in reproduce


def test_card_renders_when_splits_are_not_comparable() -> None:
    metadata = copy.deepcopy(METADATA)
    metadata["data"]["splits"] = "see the MLflow run"
    metadata["robustness"] = {}
    del metadata["reproduce"]
    card = render_model_card(metadata)
    assert "see the MLflow run" in card
    assert "```\ndvc repro\n```" in card


def test_card_renders_without_optional_model_facts() -> None:
    metadata = copy.deepcopy(METADATA)
    del metadata["parameters"]
    assert "n/a parameters" in render_model_card(metadata)
