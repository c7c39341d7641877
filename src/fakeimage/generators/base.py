"""What every generator family shares: seeded training in epochs that survives interruption.

A family (gan, diffusion, vae) builds its networks and optimisers up front, so every variable
exists before training; then :func:`train` runs its `train_step` over seeded batches and, after
each epoch, saves every variable (weights, batch-norm statistics, spectral-norm vectors,
optimiser moments and step counts) to `state.npz`, then `progress.json`, each by
write-then-rename: a checkpoint is whole or absent. Batches and noise of epoch e come from a
generator seeded with (seed, e), and TensorFlow runs with op determinism, so a run resumed
after Ctrl-C ends exactly where an uninterrupted one would. Asking for more epochs continues
a finished run; a checkpoint of other settings or other images is discarded.
"""

from __future__ import annotations

import abc
import hashlib
import io
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fakeimage.atomic import write_bytes, write_json
from fakeimage.config import GeneratorParams

STATE_FILE = "state.npz"
PROGRESS_FILE = "progress.json"
SAMPLE_BATCH = 250
"""Images generated per forward pass when sampling: bounded memory for any n."""

TRAINING_KEYS = ("family", "train_images", "batch_size", "width", "seed")
"""The settings that change what training computes; epochs only say where it stops."""


def to_signed(images: np.ndarray) -> np.ndarray:
    """uint8 pixels to float32 in [-1, 1], the range the networks model."""
    return images.astype(np.float32) / 127.5 - 1.0


def to_pixels(signed: np.ndarray) -> np.ndarray:
    """float values in [-1, 1] back to uint8 pixels, rounded and clipped."""
    return np.clip(np.rint((np.asarray(signed) + 1.0) * 127.5), 0, 255).astype(np.uint8)


class GenerativeModel(abc.ABC):
    """A generator family's networks and optimisers, built (and seeded) by the constructor."""

    def __init__(self, settings: GeneratorParams) -> None:
        self.settings = settings
        keras.utils.set_random_seed(settings.seed)
        tf.config.experimental.enable_op_determinism()

    @abc.abstractmethod
    def variables(self) -> list[keras.Variable]:
        """Every variable training changes, optimisers' included, in a fixed order."""

    @abc.abstractmethod
    def train_step(self, batch: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        """One update on a batch in [-1, 1]; every random draw comes from `rng`."""

    @abc.abstractmethod
    def generate(self, noise_rng: np.random.Generator, count: int) -> np.ndarray:
        """`count` images in [-1, 1], float (count, 32, 32, 3), from draws of `noise_rng`."""

    def sample(self, n: int, seed: int) -> np.ndarray:
        """n images as uint8 (n, 32, 32, 3); the same seed gives the same images."""
        rng = np.random.default_rng(seed)
        parts = [
            to_pixels(self.generate(rng, min(SAMPLE_BATCH, n - start)))
            for start in range(0, n, SAMPLE_BATCH)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, 32, 32, 3), np.uint8)


@dataclass
class Progress:
    """Where training stands: the next epoch, its time so far and each epoch's mean losses."""

    next_epoch: int = 0
    seconds: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Training:
    """What `train` did: epochs in all and in this session, and training time in all."""

    epochs: int
    epochs_this_session: int
    seconds: float
    images_per_second: float
    history: dict[str, list[float]]


def fingerprint(settings: GeneratorParams, images: np.ndarray) -> str:
    """What a checkpoint must match to be resumed: the training settings and the images."""
    chosen = {key: getattr(settings, key) for key in TRAINING_KEYS}
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()
    return hashlib.sha256(json.dumps([chosen, digest], sort_keys=True).encode()).hexdigest()


def train(
    model: GenerativeModel,
    images: np.ndarray,
    epochs: int,
    folder: Path,
    after_epoch: Callable[[int, Progress], None] | None = None,
) -> Training:
    """Train `model` on uint8 images up to `epochs`, resuming from the checkpoint in `folder`;
    `after_epoch(epochs done, progress)` runs after each epoch's checkpoint is written."""
    settings = model.settings
    mark = fingerprint(settings, images)
    progress = _restore(model, folder, mark, epochs)
    data = to_signed(images)
    size = min(settings.batch_size, len(data))
    steps = len(data) // size  # whole batches only: one traced shape, no dynamic batch
    start_epoch = progress.next_epoch
    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        rng = np.random.default_rng([settings.seed, epoch])
        order = rng.permutation(len(data))
        sums: dict[str, float] = {}
        for step in range(steps):
            batch = data[order[step * size : (step + 1) * size]]
            for key, value in model.train_step(batch, rng).items():
                sums[key] = sums.get(key, 0.0) + value / steps
        for key, mean in sums.items():
            progress.history.setdefault(key, []).append(mean)
        progress.next_epoch = epoch + 1
        progress.seconds += time.perf_counter() - started
        _save(model, folder, mark, progress)
        if after_epoch:
            after_epoch(epoch + 1, progress)
    seen = steps * size * epochs
    return Training(
        epochs=epochs,
        epochs_this_session=epochs - start_epoch,
        seconds=progress.seconds,
        images_per_second=seen / progress.seconds if progress.seconds else 0.0,
        history=progress.history,
    )


def _restore(model: GenerativeModel, folder: Path, mark: str, epochs: int) -> Progress:
    """The checkpoint's progress with its state put back, or a fresh start (and no folder)."""
    path = folder / PROGRESS_FILE
    saved = json.loads(path.read_text()) if path.is_file() else {}
    if saved.get("fingerprint") != mark or saved.get("next_epoch", 0) > epochs:
        shutil.rmtree(folder, ignore_errors=True)  # another run's, or past the epochs asked
        return Progress()
    with np.load(folder / STATE_FILE, allow_pickle=False) as state:
        values = [state[f"arr_{i}"] for i in range(len(state.files))]
    for variable, value in zip(model.variables(), values, strict=True):
        variable.assign(value)
    del saved["fingerprint"]
    return Progress(**saved)


def _save(model: GenerativeModel, folder: Path, mark: str, progress: Progress) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(variable) for variable in model.variables()])
    write_bytes(folder / STATE_FILE, buffer.getvalue())
    write_json(folder / PROGRESS_FILE, {"fingerprint": mark, **vars(progress)})


def optimizer_variables(optimizer: keras.optimizers.Optimizer, weights: list) -> list:
    """Build the optimiser for `weights` now, so its moments exist to be saved and restored."""
    optimizer.build(weights)
    return list(optimizer.variables)
