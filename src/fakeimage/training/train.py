"""Fitting a model from the zoo: strategy, optimiser, schedule, early stopping, best weights."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from fakeimage.config import ModelParams, TrainParams
from fakeimage.data.dataset import Dataset
from fakeimage.hardware import CpuInfo, cpu_info
from fakeimage.models.zoo import build_model, precision
from fakeimage.training.checkpoint import (
    Checkpoint,
    Progress,
    ResumableEarlyStopping,
    SaveEachEpoch,
)
from fakeimage.training.distributed import fit_across_workers
from fakeimage.training.finetune import Parent, mix_back, start_from
from fakeimage.training.pipeline import make_dataset, source_weights, steps_per_epoch


@dataclass
class TrainResult:
    model: keras.Model
    history: dict[str, list[float]]
    best_epoch: int  # 1-based epoch whose weights were kept (lowest val loss after warm-up)
    epochs_run: int
    seconds: float
    images_per_second: float
    precision_policy: str  # the Keras dtype policy training ran in (see precision_policy)


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy named in params; the same code runs on one CPU or a cluster.

    multi_worker_mirrored reads the cluster layout from the TF_CONFIG environment variable.
    """
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


ONE_CYCLE_WARMUP = 0.3
"""Fraction of training over which the one-cycle schedule raises the learning rate."""


def make_optimizer(params: TrainParams, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    total_steps = max(1, params.epochs * steps_per_epoch)
    rate: float | keras.optimizers.schedules.LearningRateSchedule = params.learning_rate
    if params.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(params.learning_rate, total_steps)
    elif params.schedule == "one_cycle":
        # Warm up linearly from lr/25 to lr, then anneal by cosine.
        warmup = max(1, int(ONE_CYCLE_WARMUP * total_steps))
        rate = keras.optimizers.schedules.CosineDecay(
            params.learning_rate / 25,
            decay_steps=max(1, total_steps - warmup),
            warmup_target=params.learning_rate,
            warmup_steps=warmup,
        )
    if params.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True)
    if params.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(rate, weight_decay=params.weight_decay)
        # Decay only kernels: shrinking batch-norm scales and offsets or biases does not
        # regularise, it only fights the normalisation.
        optimizer.exclude_from_weight_decay(var_names=["gamma", "beta", "bias"])
        return optimizer
    return keras.optimizers.Adam(rate)


def make_early_stopping(params: TrainParams) -> ResumableEarlyStopping:
    """Stop on validation loss, keeping the best weights; ignore the one-cycle warm-up.

    While the learning rate climbs, validation loss jumps about (batch-norm statistics chase
    ever larger steps); counting patience there can stop a run before it anneals.
    """
    warmup_epochs = int(ONE_CYCLE_WARMUP * params.epochs) if params.schedule == "one_cycle" else 0
    return ResumableEarlyStopping(
        monitor="val_loss",
        patience=params.patience,
        restore_best_weights=True,
        start_from_epoch=warmup_epochs,
        verbose=0,  # the train stage's own line says the best epoch and an early stop
    )


def precision_policy(mixed_precision: bool, on_gpu: bool, cpu: CpuInfo) -> str:
    """The Keras dtype policy to train in: mixed only where the hardware computes it natively.

    GPUs get float16; CPUs get bfloat16 only with AMX/AVX-512 BF16 (or Arm BF16). Elsewhere
    bfloat16 is emulated and about ten times slower than float32, so float32 it is.
    """
    if not mixed_precision:
        return "float32"
    if on_gpu:
        return "mixed_float16"
    return "mixed_bfloat16" if cpu.native_bfloat16 else "float32"


def machine_precision_policy(mixed_precision: bool) -> str:
    """The policy :func:`precision_policy` picks for this machine's GPUs and CPU."""
    on_gpu = bool(tf.config.list_physical_devices("GPU"))
    return precision_policy(mixed_precision, on_gpu, cpu_info())


def _choose_precision(params: TrainParams) -> str:
    policy = machine_precision_policy(params.mixed_precision)
    if params.mixed_precision and policy == "float32":
        print(
            f"train: {cpu_info().model} has no native bfloat16 (AMX or AVX-512 BF16), where "
            "mixed precision would run ~10x slower; training in float32 "
            "(set train.mixed_precision: false to silence this).",
            file=sys.stderr,
        )
    return policy


def train_model(
    model_params: ModelParams,
    params: TrainParams,
    train: Dataset,
    val: Dataset,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 2,
    parent: Parent | None = None,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train with the params' optimiser and schedule; keep the weights of the best val loss.

    With a `parent`, training starts from its weights (fine-tuning) instead of random ones.
    With a `checkpoint`, the state after every epoch is saved there, and a `progress` read
    from it resumes training after its last completed epoch.
    """
    keras.utils.set_random_seed(params.seed)
    policy = _choose_precision(params)
    strategy = make_strategy(params.strategy)
    steps = steps_per_epoch(train, params.batch_size)
    with strategy.scope(), precision(policy):
        model = build_model(model_params)
        if parent is not None:
            start_from(model, parent)
        model.compile(
            optimizer=make_optimizer(params, steps),
            loss=keras.losses.BinaryCrossentropy(label_smoothing=params.label_smoothing),
            metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
            jit_compile=params.jit_compile,
        )
    progress = progress or Progress()
    early_stopping = make_early_stopping(params)
    if checkpoint is not None and progress.next_epoch > 0:
        checkpoint.restore(model, early_stopping, progress)
        print(f"train: resuming after epoch {progress.next_epoch} from {checkpoint.folder}")

    def epochs_from(first: int, last: int) -> tf.data.Dataset:
        return make_dataset(
            train,
            batch_size=params.batch_size,
            training=True,
            augment=params.augment,
            seed=params.seed,
            first_epoch=first,
            epochs=last,
        )

    # Rehearsal learns a few new images beside thousands of old ones: every source weighs the
    # same in the validation loss, or early stopping would keep the epoch that changed least.
    rehearsing = parent is not None and params.replay is not None
    val_data = make_dataset(
        val,
        batch_size=max(params.batch_size, 256),
        training=False,
        weights=source_weights(val) if rehearsing else None,
    )
    earlier_seconds = progress.seconds
    started = time.perf_counter()
    if params.strategy == "multi_worker_mirrored":  # Keras' fit cannot run under it
        history = fit_across_workers(
            strategy,
            model,
            lambda epoch: epochs_from(epoch, epoch + 1),
            val_data,
            epochs=params.epochs,
            global_batch_size=params.batch_size,
            label_smoothing=params.label_smoothing,
            early_stopping=early_stopping,
            callbacks=callbacks,
        )
    elif progress.next_epoch < params.epochs and not progress.stopped:
        saving = [SaveEachEpoch(checkpoint, early_stopping, progress)] if checkpoint else []
        fitted = model.fit(
            epochs_from(progress.next_epoch, params.epochs),
            validation_data=val_data,
            epochs=params.epochs,
            initial_epoch=progress.next_epoch,
            steps_per_epoch=steps,
            shuffle=False,  # the dataset shuffles itself (seeded per epoch)
            callbacks=[early_stopping, *callbacks, *saving],
            verbose=verbose,
        ).history
        history = progress.history if checkpoint else fitted
    else:  # killed after its last epoch: nothing left to train but fit's final step
        carried = early_stopping.carried
        if carried is not None and carried.best_weights is not None:
            model.set_weights(carried.best_weights)
        history = progress.history
    if parent is not None:
        mix_back(model, parent, params.parent_weight)
    seconds = time.perf_counter() - started + earlier_seconds
    losses = history["val_loss"]
    epochs_run = len(losses)
    first_counted = min(early_stopping.start_from_epoch, epochs_run - 1)
    return TrainResult(
        model=model,
        history={k: [float(v) for v in values] for k, values in history.items()},
        best_epoch=first_counted + int(np.argmin(losses[first_counted:])) + 1,
        epochs_run=epochs_run,
        seconds=seconds,
        images_per_second=epochs_run * len(train.y) / seconds,
        precision_policy=policy,
    )
