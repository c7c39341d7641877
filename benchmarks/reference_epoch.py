"""How long the reference recipe's epoch takes here: does it fit the 60-minute budget?

Builds the shipped reference's architecture (models/reference/card.json) and times
training steps at its batch size through the project's tf.data pipeline (flip + padded crop),
plus a validation pass, in float32 and in the mixed policy this hardware would train in, and
the same for the bigger network of the shipped robust detector (models/robust).
An epoch is scaled to the reference's train and validation split sizes; the last column says
how many epochs fit in 60 minutes, to compare with the epochs the reference was trained for.
`--emulated` also times mixed bfloat16 on a CPU without native support, to show why training
falls back to float32 there.

    python -m benchmarks.reference_epoch [--steps N] [--emulated]
"""

from __future__ import annotations

import argparse
import math
import time

import keras

from benchmarks.train_throughput import sample_data
from fakeimage.config import ModelParams, TrainParams
from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import DetectorFolder
from fakeimage.hardware import hardware_description
from fakeimage.models.zoo import build_model, count_macs, precision
from fakeimage.paths import REFERENCE_DIR
from fakeimage.training.pipeline import make_dataset
from fakeimage.training.train import machine_precision_policy, make_optimizer

BUDGET_SECONDS = 60 * 60
ROBUST_DIR = REFERENCE_DIR.with_name("robust")
"""The robust detector: a ResNet with a CIFAR stem, folded (docs/reference-model.md)."""


def reference_recipe() -> tuple[ModelParams, TrainParams, ModelCard]:
    """The reference's model and train params, typed, plus its card."""
    card = DetectorFolder(REFERENCE_DIR).card()
    return card.params.model, card.params.train, card


def seconds_per_epoch(
    model_params: ModelParams,
    train_params: TrainParams,
    policy: str,
    n_train: int,
    n_val: int,
    steps: int,
) -> tuple[float, float]:
    """(ms per training step, seconds per epoch incl. validation) under one dtype policy."""
    keras.utils.set_random_seed(0)
    batch = train_params.batch_size
    with precision(policy):
        model = build_model(model_params)
    model.compile(
        optimizer=make_optimizer(train_params, steps_per_epoch=steps),
        loss="binary_crossentropy",
    )
    data = sample_data(batch * steps)
    train = make_dataset(data, batch_size=batch, training=True, augment=train_params.augment)
    # Three steps to trace and allocate, then the timed ones.
    model.fit(train.repeat(), steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)
    started = time.perf_counter()
    model.fit(train.repeat(), steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    step_seconds = (time.perf_counter() - started) / steps
    val = make_dataset(data, batch_size=max(batch, 256), training=False)
    model.evaluate(val, verbose=0)  # trace
    started = time.perf_counter()
    model.evaluate(val, verbose=0)
    val_seconds = (time.perf_counter() - started) / len(data.y) * n_val
    return step_seconds * 1000, step_seconds * math.ceil(n_train / batch) + val_seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per policy")
    parser.add_argument("--emulated", action="store_true", help="time emulated bfloat16 too")
    args = parser.parse_args(argv)
    model_params, train_params, card = reference_recipe()
    n_train, n_val = card.data.splits["train"].total, card.data.splits["val"].total
    policies = ["float32", machine_precision_policy(True)]
    if args.emulated:
        policies.append("mixed_bfloat16")
    print(
        f"\nReference recipe ({model_params.arch}, width {model_params.width}, "
        f"stem {model_params.stem}, batch {train_params.batch_size}) on {hardware_description()}"
    )
    print(f"epoch = {n_train:,} training + {n_val:,} validation images\n")
    print("| dtype policy | ms / step | s / epoch | epochs in 60 min |")
    print("|---|---:|---:|---:|")
    for policy in dict.fromkeys(policies):  # in order, without repeats
        step_ms, epoch_s = seconds_per_epoch(
            model_params, train_params, policy, n_train, n_val, args.steps
        )
        print(f"| {policy} | {step_ms:,.0f} | {epoch_s:,.0f} | {BUDGET_SECONDS / epoch_s:.1f} |")
    policy = machine_precision_policy(True)
    robust = DetectorFolder(ROBUST_DIR).card()
    bigger = robust.params.model
    step_ms, epoch_s = seconds_per_epoch(bigger, train_params, policy, n_train, n_val, args.steps)
    network = build_model(bigger)
    print(
        f"| robust: {bigger.arch} width {bigger.width}, depth {bigger.depth}, "
        f"{bigger.stem} ({network.count_params():,} parameters, "
        f"{count_macs(network) / 1e6:.0f}M multiply-adds), {policy} | {step_ms:,.0f} | "
        f"{epoch_s:,.0f} | {BUDGET_SECONDS / epoch_s:.1f} |"
    )
    for name, shipped in (("reference", card), ("robust detector", robust)):
        training = shipped.training
        print(
            f"\nShipped {name}: {training.epochs_run} epochs, "
            f"{training.seconds / training.epochs_run:,.0f} s/epoch on average (its card) in "
            f"{training.precision_policy} on {training.hardware}"
        )


if __name__ == "__main__":
    main()
