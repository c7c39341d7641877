"""Fitting: optimisers, learning-rate schedules, the strategy, and keeping the best epoch."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from fakeimage.config import AugmentParams, ModelParams, TrainParams
from fakeimage.data.dataset import Dataset
from fakeimage.hardware import CpuInfo
from fakeimage.training.pipeline import make_dataset
from fakeimage.training.train import (
    TrainResult,
    make_early_stopping,
    make_optimizer,
    make_strategy,
    precision_policy,
    train_model,
)

SCHEDULE = keras.optimizers.schedules.LearningRateSchedule


def _rate(optimizer: keras.optimizers.Optimizer, step: int) -> float:
    rate = optimizer._learning_rate  # the schedule itself, not its value at the current step
    if isinstance(rate, SCHEDULE):
        return float(keras.ops.convert_to_numpy(rate(step)))
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", keras.optimizers.Adam),
        ("adamw", keras.optimizers.AdamW),
        ("sgd", keras.optimizers.SGD),
    ],
)
@pytest.mark.parametrize("schedule", ["constant", "cosine", "one_cycle"])
def test_make_optimizer_builds_each_optimizer_and_schedule(
    name: str, cls: type, schedule: str
) -> None:
    params = TrainParams(
        optimizer=name, schedule=schedule, learning_rate=0.01, weight_decay=0.02, epochs=4
    )
    optimizer = make_optimizer(params, steps_per_epoch=25)
    assert type(optimizer) is cls
    if name == "adamw":
        assert optimizer.weight_decay == pytest.approx(0.02)
    if name == "sgd":
        assert optimizer.momentum == pytest.approx(0.9) and optimizer.nesterov
    is_schedule = isinstance(optimizer._learning_rate, SCHEDULE)
    assert is_schedule == (schedule != "constant")
    if schedule == "constant":
        assert _rate(optimizer, 0) == pytest.approx(0.01)


AMX_CPU = CpuInfo("Xeon", frozenset({"avx2", "avx512f", "avx512_bf16", "amx_bf16"}))
AVX2_CPU = CpuInfo("EPYC", frozenset({"avx2", "fma"}))


@pytest.mark.parametrize(
    ("mixed", "on_gpu", "cpu", "policy"),
    [
        (False, False, AMX_CPU, "float32"),
        (False, True, AVX2_CPU, "float32"),
        (True, True, AVX2_CPU, "mixed_float16"),
        (True, False, AMX_CPU, "mixed_bfloat16"),
        (True, False, AVX2_CPU, "float32"),  # emulated bfloat16 would be ~10x slower
    ],
)
def test_mixed_precision_only_where_the_hardware_computes_it(
    mixed: bool, on_gpu: bool, cpu: CpuInfo, policy: str
) -> None:
    assert precision_policy(mixed, on_gpu, cpu) == policy


def test_cosine_schedule_falls_from_the_learning_rate_to_zero() -> None:
    params = TrainParams(schedule="cosine", learning_rate=0.01, epochs=4)
    optimizer = make_optimizer(params, steps_per_epoch=25)  # 100 steps in all
    rates = [_rate(optimizer, step) for step in range(0, 101, 5)]
    assert rates[0] == pytest.approx(0.01)
    assert all(later <= earlier for earlier, later in itertools.pairwise(rates))
    assert rates[-1] == pytest.approx(0.0, abs=1e-8)


def test_one_cycle_schedule_rises_then_falls() -> None:
    params = TrainParams(schedule="one_cycle", learning_rate=0.01, epochs=4)
    optimizer = make_optimizer(params, steps_per_epoch=25)  # 100 steps, warm-up 30
    rates = np.array([_rate(optimizer, step) for step in range(101)])
    peak = int(np.argmax(rates))
    assert rates[0] == pytest.approx(0.01 / 25)
    assert peak == 30 and rates[peak] == pytest.approx(0.01)
    assert np.all(np.diff(rates[: peak + 1]) > 0)  # rises ...
    assert np.all(np.diff(rates[peak:]) <= 1e-12)  # ... then falls
    assert rates[-1] < 0.01 / 25


def test_adamw_decays_kernels_but_not_batch_norm_or_biases() -> None:
    params = TrainParams(optimizer="adamw", learning_rate=0.1, weight_decay=0.5)
    optimizer = make_optimizer(params, steps_per_epoch=1)
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.Conv2D(2, 3, bias_initializer="ones")(inputs)
    outputs = keras.layers.BatchNormalization(beta_initializer="ones")(x)
    model = keras.Model(inputs, outputs)
    variables = model.trainable_variables
    before = {v.path: np.array(v.numpy()) for v in variables}
    # Zero gradients: Adam moves nothing, so any change is the decay alone.
    optimizer.apply([tf.zeros_like(v) for v in variables], variables)
    for variable in variables:
        after = variable.numpy()
        if variable.name == "kernel":
            np.testing.assert_allclose(after, before[variable.path] * (1 - 0.1 * 0.5), rtol=1e-5)
        else:
            np.testing.assert_array_equal(after, before[variable.path], err_msg=variable.path)
    assert {v.name for v in variables} == {"kernel", "bias", "gamma", "beta"}


@pytest.mark.parametrize(
    ("schedule", "epochs", "ignored"),
    [("one_cycle", 30, 9), ("one_cycle", 3, 0), ("cosine", 30, 0)],
)
def test_early_stopping_ignores_the_one_cycle_warm_up(
    schedule: str, epochs: int, ignored: int
) -> None:
    stopping = make_early_stopping(TrainParams(schedule=schedule, epochs=epochs, patience=4))
    assert stopping.start_from_epoch == ignored
    assert (stopping.monitor, stopping.patience, stopping.restore_best_weights) == (
        "val_loss",
        4,
        True,
    )


def test_make_optimizer_survives_tiny_runs() -> None:
    for schedule in ("cosine", "one_cycle"):
        optimizer = make_optimizer(TrainParams(schedule=schedule, epochs=1), steps_per_epoch=1)
        assert np.isfinite(_rate(optimizer, 0)) and np.isfinite(_rate(optimizer, 1))


def test_default_strategy_is_the_single_device_one() -> None:
    strategy = make_strategy("default")
    assert strategy is tf.distribute.get_strategy()
    assert strategy.num_replicas_in_sync == 1


def _bright_vs_dark(n: int, seed: int, inverted: bool = False) -> Dataset:
    """FAKE images are bright, REAL ones dark (or the reverse, when inverted)."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.uint8)
    bright = y == 1 if not inverted else y == 0
    x = np.where(
        bright[:, None, None, None],
        rng.integers(170, 256, (n, 32, 32, 3)),
        rng.integers(0, 86, (n, 32, 32, 3)),
    ).astype(np.uint8)
    return Dataset(x, y)


def _val_loss(model: keras.Model, val: Dataset) -> float:
    model.compile(loss=keras.losses.BinaryCrossentropy(), metrics=[])
    data = make_dataset(val, batch_size=256, training=False)
    return float(model.evaluate(data, verbose=0))


PARAMS = TrainParams(
    epochs=3,
    batch_size=16,
    learning_rate=0.001,
    patience=5,
    seed=0,
    augment=AugmentParams(flip=True, crop_padding=2),
)


@pytest.fixture(scope="module")
def separable() -> tuple[TrainResult, Dataset]:
    train, val = _bright_vs_dark(64, seed=0), _bright_vs_dark(32, seed=1)
    return train_model(ModelParams(arch="seed_cnn"), PARAMS, train, val, verbose=0), val


def test_train_model_learns_a_separable_task(separable: tuple[TrainResult, Dataset]) -> None:
    result, _ = separable
    assert isinstance(result, TrainResult)
    assert result.epochs_run == 3
    assert set(result.history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert all(len(values) == 3 for values in result.history.values())
    assert result.history["val_accuracy"][result.best_epoch - 1] >= 0.9
    assert result.seconds > 0 and result.images_per_second > 0
    assert result.images_per_second == pytest.approx(3 * 64 / result.seconds)
    assert result.precision_policy == "float32"  # mixed precision is off in PARAMS


def test_train_model_keeps_the_epoch_of_lowest_validation_loss(
    separable: tuple[TrainResult, Dataset],
) -> None:
    result, val = separable
    losses = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert _val_loss(result.model, val) == pytest.approx(min(losses), rel=1e-4)


def test_train_model_restores_best_weights_when_validation_gets_worse() -> None:
    # Validation labels are the opposite of training's, so learning makes val loss grow:
    # the best epoch comes early, and the returned model must be that epoch's, not the last.
    train, val = _bright_vs_dark(64, seed=0), _bright_vs_dark(32, seed=1, inverted=True)
    result = train_model(ModelParams(arch="seed_cnn"), PARAMS, train, val, verbose=0)
    losses = result.history["val_loss"]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    assert result.best_epoch < result.epochs_run, losses
    assert _val_loss(result.model, val) == pytest.approx(min(losses), rel=1e-4)
    assert _val_loss(result.model, val) < losses[-1]
