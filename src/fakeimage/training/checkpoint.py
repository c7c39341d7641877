"""Training that survives interruption: the state after every epoch, and resuming from it.

After each completed epoch the model's weights, the optimiser's state (moments, step count,
hence the learning-rate schedule's position), early stopping's state (best loss, patience
used, best weights) and the history so far are written to a checkpoint folder, each file by
write-then-rename, `progress.json` last: a checkpoint is whole or absent. Run the same
command again after Ctrl-C, SIGKILL or a lost machine and training resumes from the last
completed epoch; the input pipeline's batches depend only on (seed, epoch), so the result is
the one an uninterrupted run would have had. A checkpoint of other params or data (its
fingerprint differs) is discarded, never resumed.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fakeimage.atomic import write_bytes, write_json

PROGRESS_FILE = "progress.json"
_WEIGHTS = "weights.npz"
_OPTIMIZER = "optimizer.npz"
_BEST = "best_weights.npz"


def run_fingerprint(*parts: Any) -> str:
    """What a checkpoint must match to be resumed: params, data fingerprint, parent."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Progress:
    """Where a run stands: the next epoch to train and everything needed to continue."""

    next_epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=dict)
    stopped: bool = False
    """Early stopping ended the run: resuming trains no further epoch."""
    best: float | None = None
    wait: int = 0
    best_epoch: int = 0
    seconds: float = 0.0
    """Training time of the sessions before this one."""
    run_id: str | None = None


@dataclass(frozen=True)
class StoppingState:
    """Early stopping's judgement so far, carried from a checkpoint into a resumed `fit`."""

    best: float | None
    wait: int
    best_epoch: int
    best_weights: list[np.ndarray] | None


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' early stopping, whose state can be carried over into a resumed `fit`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.carried: StoppingState | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        if self.carried is not None:
            self.best, self.wait = self.carried.best, self.carried.wait
            self.best_epoch, self.best_weights = self.carried.best_epoch, self.carried.best_weights


class Checkpoint:
    """The checkpoint folder of one training run (`fingerprint` names what it trains)."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.folder = folder
        self.fingerprint = fingerprint

    def progress(self) -> Progress | None:
        """The saved progress of this run, or None (no checkpoint, or one of another run)."""
        path = self.folder / PROGRESS_FILE
        if not path.is_file():
            return None
        saved = json.loads(path.read_text())
        if saved.get("fingerprint") != self.fingerprint:
            return None
        del saved["fingerprint"]
        return Progress(**saved)

    def stale_run_id(self) -> str | None:
        """The MLflow run of a checkpoint left by another run (which nothing will resume)."""
        path = self.folder / PROGRESS_FILE
        if not path.is_file():
            return None
        saved = json.loads(path.read_text())
        return None if saved.get("fingerprint") == self.fingerprint else saved.get("run_id")

    def restore(
        self, model: keras.Model, stopping: ResumableEarlyStopping, progress: Progress
    ) -> None:
        """Put the saved weights, optimiser state and early-stopping state back in place."""
        model.set_weights(_load_arrays(self.folder / _WEIGHTS))
        optimizer = model.optimizer
        optimizer.build(model.trainable_variables)
        for variable, value in zip(
            optimizer.variables, _load_arrays(self.folder / _OPTIMIZER), strict=True
        ):
            variable.assign(value)
        best_path = self.folder / _BEST
        best_weights = _load_arrays(best_path) if best_path.is_file() else None
        stopping.carried = StoppingState(
            progress.best, progress.wait, progress.best_epoch, best_weights
        )

    def save(
        self, model: keras.Model, stopping: ResumableEarlyStopping, progress: Progress
    ) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _save_arrays(self.folder / _WEIGHTS, model.get_weights())
        _save_arrays(self.folder / _OPTIMIZER, [v.numpy() for v in model.optimizer.variables])
        if stopping.best_weights is not None:
            _save_arrays(self.folder / _BEST, stopping.best_weights)
        fields = dict(vars(progress))
        write_json(self.folder / PROGRESS_FILE, {"fingerprint": self.fingerprint, **fields})

    def clear(self) -> None:
        clear_checkpoint(self.folder)


class SaveEachEpoch(keras.callbacks.Callback):
    """Writes the checkpoint at the end of every epoch (after early stopping has judged it)."""

    def __init__(
        self, checkpoint: Checkpoint, stopping: ResumableEarlyStopping, progress: Progress
    ) -> None:
        super().__init__()
        self.checkpoint, self.stopping, self.progress = checkpoint, stopping, progress
        self.since = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.progress.history.setdefault(key, []).append(float(value))
        self.progress.next_epoch = epoch + 1
        self.progress.stopped = bool(self.model.stop_training)
        best = self.stopping.best
        self.progress.best = None if best is None else float(best)
        self.progress.wait = int(self.stopping.wait)
        self.progress.best_epoch = int(self.stopping.best_epoch)
        now = time.perf_counter()
        self.progress.seconds += now - self.since
        self.since = now
        self.checkpoint.save(self.model, self.stopping, self.progress)


def clear_checkpoint(folder: Path) -> None:
    """Drop a run's checkpoint once its outputs are written: nothing is left to resume."""
    shutil.rmtree(folder, ignore_errors=True)


def resumable_progress(checkpoint: Checkpoint) -> Progress:
    """The progress of an interrupted run of the same params and data, else a fresh start.

    A checkpoint left by another run is discarded and its MLflow run marked failed: nothing
    will ever resume it.
    """
    from fakeimage.registry.store import mark_failed

    if progress := checkpoint.progress():
        return progress
    if stale := checkpoint.stale_run_id():
        mark_failed(stale)
    checkpoint.clear()
    return Progress()


def _save_arrays(path: Path, arrays: list[np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(a) for a in arrays])
    write_bytes(path, buffer.getvalue())


def _load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path, allow_pickle=False) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]
