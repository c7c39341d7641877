"""Model cards for tests: one complete, realistic card, and variants of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from fakeimage.config import load_params, params_to_dict, parse_params
from fakeimage.detector.card import (
    Architecture,
    DataRecord,
    Evaluation,
    Lineage,
    ModelCard,
    Scores,
    SplitCounts,
    Training,
    TrainingImages,
    UncertaintyRule,
)
from fakeimage.detector.folder import FEATURE_FILE, TRAINING_IMAGES_FILE
from repo_copy import REPO_ROOT

TEST_SCORES = Scores(
    n=2000,
    threshold=0.4321,
    accuracy=0.9135,
    precision=0.9012345,
    recall=0.93,
    f1=0.9154,
    roc_auc=0.97123,
    pr_auc=0.9688,
    log_loss=0.2234,
    ece=0.0312,
    confusion_matrix=[[897, 103], [70, 930]],
)

EVALUATION = Evaluation(
    threshold=0.4321,
    threshold_policy="max_accuracy",
    flip_tta=False,
    val=TEST_SCORES.replace(accuracy=0.92),
    test=TEST_SCORES,
    robustness={
        "jpeg_q75": {"accuracy": 0.8123, "f1": 0.8, "roc_auc": 0.9, "log_loss": 0.5},
        "blur_r0.8": {"accuracy": 0.6001, "f1": 0.5, "roc_auc": 0.7, "log_loss": 1.2},
    },
)


def make_rule(
    band: tuple[float, float] = (0.4, 0.6), min_detail: float = 2.0, max_distance: float = 5.0
) -> UncertaintyRule:
    """An uncertainty rule as the evaluate stage writes it, with the given limits."""
    return UncertaintyRule(
        band=list(band),
        min_detail=min_detail,
        max_distance=max_distance,
        feature_file=FEATURE_FILE,
        val_share=0.03,
        val_shares={"near_threshold": 0.02, "little_detail": 0.005, "unfamiliar": 0.005},
    )


def make_card(*, source: str = "archive", evaluated: bool = True, **update: Any) -> ModelCard:
    """A complete card (name fake-image-detector, version 3); `update` replaces fields."""
    card = ModelCard(
        name="fake-image-detector",
        version="3",
        alias="champion",
        run_id="0123456789abcdef0123456789abcdef",
        model_uri="models:/m-0123",
        lineage=Lineage(promotion="there is no champion yet"),
        architecture=Architecture(arch="seed_cnn", parameters=159041, macs=5137920),
        # every setting spelt out, as a card written by the pipeline holds them
        params=parse_params(
            parse_params({"train": {"epochs": 10, "learning_rate": 0.001}}).model_dump(mode="json")
        ),
        data=DataRecord(
            source=source,
            description=f"{source}: somewhere",
            fingerprint="f" * 64,
            splits={
                "train": SplitCounts(total=16200, REAL=8100, FAKE=8100),
                "val": SplitCounts(total=1800, REAL=900, FAKE=900),
                "test": SplitCounts(total=2000, REAL=1000, FAKE=1000),
            },
        ),
        training=Training(
            epochs_run=10,
            best_epoch=8,
            seconds=95.4,
            images_per_second=1700.0,
            hardware="Test CPU, 2 cores",
            precision_policy="mixed_bfloat16",
        ),
        training_images=TrainingImages(file=TRAINING_IMAGES_FILE, count=16200),
        evaluation=EVALUATION if evaluated else None,
        exported_at="2025-01-01T00:00:00+00:00",
        reproduce="git checkout abc123 && dvc repro",
    )
    return card.replace(**update)


def save_servable_detector(
    folder: Path,
    *,
    seed: int = 0,
    onnx: bool = True,
    trained_on: np.ndarray | None = None,
    **card_fields: Any,
) -> Path:
    """A packaged seed_cnn with random weights, carded like a real detector: threshold 0.5, a
    calibration, and an uncertainty rule whose only active limit is fine detail (flat images
    are uncertain; the band is empty and every feature distance familiar), with its checked
    ONNX graph unless `onnx` is false. `trained_on` are the images its record says it trained
    on (one random image by default); `card_fields` replace the card's (name test-detector,
    version 7 by default)."""
    import keras

    from fakeimage.config import ModelParams
    from fakeimage.data.hashes import training_record
    from fakeimage.detector.card import Calibration
    from fakeimage.evaluation.fitting import fit_feature_stats
    from fakeimage.models.export import export_onnx
    from fakeimage.models.keras_detector import Detector, save_detector
    from fakeimage.models.zoo import seed_cnn

    keras.utils.set_random_seed(seed)
    model = seed_cnn(ModelParams())
    images = np.random.default_rng(seed).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    features = Detector(model, make_card()).raw_scores(images)[1]
    stats = fit_feature_stats(features, np.arange(64) % 2)
    rule = make_rule(band=(0.5, 0.5), min_detail=1.0, max_distance=1e9)
    calibration = Calibration(scale=2.0, bias=0.0, ece_before=0.05, ece_after=0.01)
    evaluation = EVALUATION.replace(threshold=0.5, calibration=calibration, uncertainty=rule)
    card = make_card(
        **{"name": "test-detector", "version": "7", **card_fields, "evaluation": evaluation}
    )
    record = training_record(images[:1] if trained_on is None else trained_on)
    graph = None
    if onnx:
        graph, export = export_onnx(Detector(model, card, stats), images)
        card = card.replace(onnx=export)
    save_detector(folder, model, card, record, stats=stats, onnx=graph)
    return folder


def _as_override(value: Any) -> str:
    """A value as `dvc exp run -S key=value` writes it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(_as_override(item) for item in value) + "]"
    return str(value)


def _changed_from_defaults(trained_with: dict[str, Any]) -> dict[str, str]:
    """The params that differ from params.yaml, as `dvc exp run -S` writes them."""
    defaults = {
        key: _as_override(value)
        for key, value in params_to_dict(load_params(REPO_ROOT / "params.yaml")).items()
    }
    return {
        key: _as_override(value)
        for key, value in params_to_dict(trained_with).items()
        if defaults.get(key) != _as_override(value)
        and not (value is None and key not in defaults)  # another source kind's unset option
    }


def _set_in_command(reproduce: str, key: str) -> Any:
    """The value `-S 'key=VALUE'` sets in the command, as params.yaml would read it."""
    marker = f"-S '{key}="
    assert marker in reproduce, key
    value = yaml.safe_load(reproduce.split(marker, 1)[1].split("'", 1)[0])
    nested: dict[str, Any] = {}
    *parents, last = key.split(".")
    inner = nested
    for part in parents:
        inner = inner.setdefault(part, {})
    inner[last] = value
    return params_to_dict(parse_params(nested))[key]


def assert_reproduce_sets_every_param(card: ModelCard) -> set[str]:
    """A shipped card's `reproduce` command sets every param it was trained with that differs
    from params.yaml (the parent, kept in git history, by any location); returns their keys.
    A list of entries (zoo.generators) is compared as read, defaults filled in."""
    changed = _changed_from_defaults(card.params)
    trained_with = params_to_dict(card.params)
    for key, value in changed.items():
        if key == "train.init_from":
            assert "-S train.init_from=" in card.reproduce
            continue
        listed = trained_with[key]
        if isinstance(listed, list) and any(isinstance(item, dict) for item in listed):
            assert _set_in_command(card.reproduce, key) == listed, key
            continue
        settings = (f"-S {key}={value}", f"-S '{key}={value}'", f"-S ++{key}={value}")  # ++: add
        assert any(setting in card.reproduce for setting in settings), key
    return set(changed)
