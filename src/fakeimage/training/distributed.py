"""Training across machines with MultiWorkerMirroredStrategy, in a loop of our own.

Keras 3's `fit` cannot run under MultiWorkerMirroredStrategy (keras-team/keras#20585: it
reduces per-replica batches it cannot convert), so `train.strategy: multi_worker_mirrored`
trains here: each worker feeds its shard of every global batch through `strategy.run`, the
gradients are all-reduced, and validation loss and accuracy are summed over the workers. It
keeps `fit`'s contract: the same history keys, callbacks' `on_epoch_end`, and early stopping on
validation loss with the best weights restored (as `make_early_stopping` configures it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import tensorflow as tf


def fit_across_workers(
    strategy: tf.distribute.Strategy,
    model: keras.Model,
    train_epoch: Callable[[int], tf.data.Dataset],
    val_data: tf.data.Dataset,
    *,
    epochs: int,
    global_batch_size: int,
    label_smoothing: float,
    early_stopping: keras.callbacks.EarlyStopping,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> dict[str, list[float]]:
    """Train `model` (built and compiled under `strategy`); return fit's history dict.

    `train_epoch(e)` gives the batches of epoch e (see `pipeline.make_dataset`).
    """
    with strategy.scope():
        per_image = keras.losses.BinaryCrossentropy(
            label_smoothing=label_smoothing, reduction="none"
        )
    optimizer = model.optimizer

    def sums(images: tf.Tensor, labels: tf.Tensor, training: bool) -> tuple[tf.Tensor, ...]:
        labels = tf.reshape(tf.cast(labels, tf.float32), [-1, 1])
        predictions = tf.cast(model(images, training=training), tf.float32)
        losses = per_image(labels, predictions)
        correct = tf.cast(tf.equal(tf.cast(predictions >= 0.5, tf.float32), labels), tf.float32)
        return losses, tf.reduce_sum(correct), tf.cast(tf.size(labels), tf.float32)

    @tf.function
    def train_step(batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        def replica(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
            with tf.GradientTape() as tape:
                losses, correct, count = sums(images, labels, training=True)
                loss = tf.nn.compute_average_loss(losses, global_batch_size=global_batch_size)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            return tf.stack([tf.reduce_sum(losses), correct, count])

        totals = strategy.run(replica, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, totals, axis=None)

    @tf.function
    def val_step(batch: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
        def replica(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
            losses, correct, count = sums(images, labels, training=False)
            return tf.stack([tf.reduce_sum(losses), correct, count])

        totals = strategy.run(replica, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, totals, axis=None)

    def run_epoch(step: tf.types.experimental.GenericFunction, data: tf.data.Dataset) -> tuple:
        total = tf.zeros(3)
        for batch in strategy.experimental_distribute_dataset(data):
            total += step(batch)
        loss, correct, count = (float(v) for v in total.numpy())
        return loss / count, correct / count

    history: dict[str, list[float]] = {
        "accuracy": [],
        "loss": [],
        "val_accuracy": [],
        "val_loss": [],
    }
    for callback in callbacks:
        callback.set_model(model)
    best_loss, best_weights, waited = float("inf"), None, 0
    for epoch in range(epochs):
        loss, accuracy = run_epoch(train_step, train_epoch(epoch))
        val_loss, val_accuracy = run_epoch(val_step, val_data)
        logs = {
            "accuracy": accuracy,
            "loss": loss,
            "val_accuracy": val_accuracy,
            "val_loss": val_loss,
        }
        for key, value in logs.items():
            history[key].append(value)
        print(
            f"Epoch {epoch + 1}/{epochs} - "
            + " - ".join(f"{key}: {value:.4f}" for key, value in logs.items()),
            flush=True,
        )
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if epoch < early_stopping.start_from_epoch:
            continue
        if val_loss < best_loss:
            best_loss, best_weights, waited = val_loss, model.get_weights(), 0
        else:
            waited += 1
            if waited >= early_stopping.patience:
                print(f"Epoch {epoch + 1}: early stopping", flush=True)
                break
    if best_weights is not None:
        model.set_weights(best_weights)
    return history
