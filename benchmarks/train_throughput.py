"""Training throughput of seed_cnn at batch 64: is the tf.data pipeline the bottleneck?

Three input paths feed the same model, and each is timed over the same number of steps after
a warm-up epoch:
- ceiling: pre-made float32 batches already in memory, no augmentation;
- pipeline: the project's tf.data pipeline over uint8 arrays, with flip + padded-crop augmentation;
- degraded: the same pipeline with the robust recipe's degradations on (JPEG, resizing, blur,
  noise, crops, colour, each with its probability), to show what they cost;
- notebook: the original notebook's Keras ImageDataGenerator (rotation/shear/zoom/flip).
Target: pipeline >= 85% of ceiling.
"""

from __future__ import annotations

import argparse
import time

import keras
import numpy as np
import tensorflow as tf

from fakeimage.config import AugmentParams, ModelParams, parse_params
from fakeimage.data.dataset import Dataset
from fakeimage.models.zoo import seed_cnn
from fakeimage.training.pipeline import make_dataset

BATCH = 64
ROBUST_DEGRADATIONS = {
    "jpeg": {"p": 0.15, "quality": [30, 95]},
    "resize": {
        "p": 0.2,
        "scale": [0.45, 0.95],
        "filters": ["bilinear", "bicubic", "area", "lanczos3"],
    },
    "blur": {"p": 0.2, "radius": [0.3, 1.3]},
    "noise": {"p": 0.1, "sigma": [1, 10]},
    "crop": {"p": 0.1, "fraction": [0.8, 0.95]},
    "color": {"p": 0.1},
}
"""The degradations of the robust reference's recipe (docs/reference-model.md)."""


class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.started


def _images_per_second(source, steps: int) -> float:
    keras.utils.set_random_seed(0)
    model = seed_cnn(ModelParams())
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    timer = _EpochTimer()
    # Epoch 1 warms up (tracing, allocation); epoch 2 is timed.
    model.fit(source, epochs=2, steps_per_epoch=steps, verbose=0, callbacks=[timer])
    return steps * BATCH / timer.seconds


def sample_data(n: int, seed: int = 0) -> Dataset:
    """Random uint8 images: throughput does not depend on what the pixels show."""
    rng = np.random.default_rng(seed)
    return Dataset(
        rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 2, n, dtype=np.uint8),
    )


def measure(steps: int = 150, n: int = 25_600) -> dict[str, float]:
    data = sample_data(n)
    floats = data.x.astype(np.float32)
    batches = n // BATCH
    ceiling = (
        tf.data.Dataset.from_tensor_slices(
            (
                floats[: batches * BATCH].reshape(batches, BATCH, 32, 32, 3),
                data.y[: batches * BATCH].astype(np.float32).reshape(batches, BATCH),
            )
        )
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    pipeline = make_dataset(
        data, batch_size=BATCH, training=True, augment=AugmentParams(flip=True, crop_padding=2)
    ).repeat()
    robust = parse_params({"train": {"augment": ROBUST_DEGRADATIONS}}).train.augment
    degraded = make_dataset(data, batch_size=BATCH, training=True, augment=robust).repeat()
    from keras.src.legacy.preprocessing.image import ImageDataGenerator  # Keras 3 keeps it here

    notebook = ImageDataGenerator(
        rotation_range=20, shear_range=0.2, zoom_range=0.2, horizontal_flip=True
    ).flow(floats, data.y.astype(np.float32), batch_size=BATCH, seed=0)
    return {
        "ceiling": _images_per_second(ceiling, steps),
        "pipeline": _images_per_second(pipeline, steps),
        "degraded": _images_per_second(degraded, steps),
        "notebook": _images_per_second(notebook, steps),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args(argv)
    result = measure(args.steps)
    print(f"\nTraining throughput, seed_cnn, batch {BATCH} ({args.steps} timed steps each)")
    print(f"  in-memory float batches, no augmentation : {result['ceiling']:8,.0f} images/s")
    print(f"  tf.data pipeline with augmentation       : {result['pipeline']:8,.0f} images/s")
    print(f"  the same with the robust degradations    : {result['degraded']:8,.0f} images/s")
    print(f"  original ImageDataGenerator pipeline     : {result['notebook']:8,.0f} images/s")
    ratio = result["pipeline"] / result["ceiling"]
    verdict = "met" if ratio >= 0.85 else "MISSED"
    print(f"  pipeline / ceiling = {ratio:.1%} (target >= 85%: {verdict})")
    print(f"  pipeline / ImageDataGenerator = {result['pipeline'] / result['notebook']:.2f}x")
    cost = 1 - result["degraded"] / result["pipeline"]
    print(f"  the degradations cost {cost:.0%} of the pipeline's training rate")


if __name__ == "__main__":
    main()
