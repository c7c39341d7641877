"""Training killed mid-epoch resumes from its last completed epoch, with the same result."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from fakeimage.config import AugmentParams, ModelParams, TrainParams
from fakeimage.data.dataset import Dataset
from fakeimage.training.checkpoint import PROGRESS_FILE, Checkpoint, Progress
from fakeimage.training.train import TrainResult, train_model

pytestmark = pytest.mark.slow  # real training, in this process

PARAMS = TrainParams(
    epochs=4,
    batch_size=16,
    optimizer="adamw",
    schedule="cosine",
    learning_rate=0.003,
    weight_decay=0.01,
    patience=4,
    seed=5,
    augment=AugmentParams(flip=True, crop_padding=2),
)

MODEL = ModelParams(arch="seed_cnn", dropout=0.0)


def _data(n: int, seed: int) -> Dataset:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.uint8)
    base = np.where(y[:, None, None, None] == 1, 150, 100)
    x = np.clip(base + rng.normal(0, 40, (n, 32, 32, 3)), 0, 255).astype(np.uint8)
    return Dataset(x, y)


TRAIN, VAL = _data(96, 0), _data(48, 1)


class Killed(Exception):
    """Stands in for the signal that ends the process."""


class KillMidEpoch(keras.callbacks.Callback):
    """Dies in the middle of epoch `epoch` (0-based), after `batches` of its batches."""

    def __init__(self, epoch: int, batches: int) -> None:
        super().__init__()
        self.epoch, self.batches, self.current = epoch, batches, -1

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.current = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.current == self.epoch and batch + 1 == self.batches:
            raise Killed


def _train(checkpoint: Checkpoint | None, **kwargs: object) -> TrainResult:
    progress = (checkpoint.progress() if checkpoint else None) or Progress()
    return train_model(
        MODEL, PARAMS, TRAIN, VAL, verbose=0, checkpoint=checkpoint, progress=progress, **kwargs
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> TrainResult:
    folder = tmp_path_factory.mktemp("whole") / "checkpoint"
    return _train(Checkpoint(folder, "run"))


def _assert_same_run(resumed: TrainResult, whole: TrainResult) -> None:
    assert resumed.epochs_run == whole.epochs_run == PARAMS.epochs
    assert resumed.best_epoch == whole.best_epoch
    for key, values in whole.history.items():
        np.testing.assert_allclose(resumed.history[key], values, rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(resumed.model.get_weights(), whole.model.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("killed_in_epoch", [1, 2])
def test_a_run_killed_mid_epoch_resumes_with_the_same_result(
    tmp_path: Path, uninterrupted: TrainResult, killed_in_epoch: int
) -> None:
    checkpoint = Checkpoint(tmp_path / "checkpoint", "run")
    with pytest.raises(Killed):
        _train(checkpoint, callbacks=[KillMidEpoch(killed_in_epoch, batches=3)])
    progress = checkpoint.progress()
    assert progress is not None and progress.next_epoch == killed_in_epoch  # whole epochs only
    assert len(progress.history["val_loss"]) == killed_in_epoch
    _assert_same_run(_train(checkpoint), uninterrupted)


def test_a_run_killed_after_its_last_epoch_trains_no_more(
    tmp_path: Path, uninterrupted: TrainResult
) -> None:
    folder = tmp_path / "checkpoint"
    _train(Checkpoint(folder, "run"))  # completes; its checkpoint is the last epoch's
    assert Checkpoint(folder, "run").progress().next_epoch == PARAMS.epochs
    _assert_same_run(_train(Checkpoint(folder, "run")), uninterrupted)


def test_a_checkpoint_of_other_params_is_not_resumed(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint"
    with pytest.raises(Killed):
        _train(Checkpoint(folder, "run"), callbacks=[KillMidEpoch(1, batches=2)])
    assert (folder / PROGRESS_FILE).is_file()
    other = Checkpoint(folder, "other params")
    assert other.progress() is None
    assert other.stale_run_id() is None  # that run had no MLflow run id
