"""`make bench` helpers that read the shipped reference: they must keep up with its card."""

from __future__ import annotations

import json

import keras

from benchmarks.reference_epoch import reference_recipe, seconds_per_epoch
from fakeimage.config import ModelParams, TrainParams
from fakeimage.paths import REFERENCE_DIR


def test_the_reference_recipe_is_read_from_its_card() -> None:
    model, train, card = reference_recipe()
    recorded = json.loads((REFERENCE_DIR / "card.json").read_text())["params"]
    assert card.training.epochs_run > 0 and card.data.splits["train"].total > 0
    assert model.arch == recorded["model"]["arch"] == "fidelity_se_net"
    assert model.width == recorded["model"]["width"]
    assert model.stem == recorded["model"]["stem"]
    assert train.batch_size == recorded["train"]["batch_size"]
    assert train.augment.crop_padding == recorded["train"]["augment"]["crop_padding"]


def test_an_epoch_estimate_scales_measured_steps_and_restores_float32() -> None:
    train = TrainParams(batch_size=16)
    step_ms, epoch_s = seconds_per_epoch(
        ModelParams(arch="seed_cnn"), train, "float32", n_train=1600, n_val=160, steps=2
    )
    assert step_ms > 0
    assert epoch_s > 100 * step_ms / 1000  # 100 training steps, plus validation
    assert keras.mixed_precision.global_policy().name == "float32"


def test_the_training_throughput_benchmark_measures_every_row() -> None:
    from benchmarks.train_throughput import measure

    result = measure(3)  # each row built and timed: a broken one raises
    assert set(result) == {"ceiling", "pipeline", "degraded", "notebook"}
    assert all(rate > 0 for rate in result.values())
