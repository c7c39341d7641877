"""What the served model is compared with, measured in the benchmark's own process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def model_folder(requested: str | None, scratch: Path) -> tuple[Path, str]:
    """The detector to serve (--model, else FAKEIMAGE_MODEL, champion, reference), with its
    ONNX graph (exported into scratch for a folder that has none, as `fakeimage serve` does)."""
    from fakeimage.models.export import with_onnx

    for candidate in (requested, os.environ.get("FAKEIMAGE_MODEL")):
        if candidate:
            return with_onnx(Path(candidate).resolve(), scratch), candidate
    for folder in ("models/champion", "models/reference"):
        if (REPO_ROOT / folder / "card.json").is_file():
            return with_onnx(REPO_ROOT / folder, scratch), folder
    raise SystemExit("no model to serve: models/reference is missing from this checkout")


def _rate(run: Callable[[], object], images_per_call: int, seconds: float) -> float:
    run()
    run()  # warm up (tracing, allocation)
    calls = 0
    started = time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and calls >= 3:
            return calls * images_per_call / elapsed


@dataclass
class References:
    """What the service is compared with, measured in this process: the raw forward pass of
    both engines (ONNX Runtime, which the service runs, and Keras) and the original app path.

    A 2-core machine's speed drifts during a run (neighbours, turbo), so each server phase is
    compared with references measured right before and right after it, not at the start.
    """

    served: Any
    detector: Any
    pixels: np.ndarray
    images: list[bytes]
    seconds: float

    @classmethod
    def load(cls, folder: Path, images: list[bytes], seconds: float) -> References:
        from fakeimage.data.images import load_model_input
        from fakeimage.detector.onnx_runtime import load_onnx_detector
        from fakeimage.models.keras_detector import load_detector

        pixels = np.stack([load_model_input(data) for data in images])
        served = load_onnx_detector(folder)
        return cls(served, load_detector(folder), pixels, images, seconds)

    def batch(self, size: int) -> np.ndarray:
        return np.resize(self.pixels, (size, *self.pixels.shape[1:]))

    def raw(self, size: int) -> float:
        """ONNX Runtime images/s at this batch size, with all cores (as the batch worker)."""
        batch = self.batch(size)
        return _rate(lambda: self.served.predict_proba(batch), size, self.seconds)

    def keras(self, size: int) -> float:
        batch = self.batch(size)
        return _rate(lambda: self.detector.predict_proba(batch), size, self.seconds)

    def eager(self, size: int) -> float:
        batch = self.batch(size).astype(np.float32)
        return _rate(lambda: self.detector.model(batch, training=False), size, self.seconds)

    def original_app_ms(self, count: int) -> float:
        """The original app: PIL open, resize to 32x32, Keras predict on a batch of one."""

        def classify(data: bytes) -> float:
            image = Image.open(io.BytesIO(data)).convert("RGB").resize((32, 32))
            array = np.asarray(image, dtype=np.float32)[None]
            return float(self.detector.model.predict(array, verbose=0)[0, 0])

        classify(self.images[0])
        started = time.perf_counter()
        for data in self.images[:count]:
            classify(data)
        return (time.perf_counter() - started) / count * 1000

    def around(self, measure: Callable[[], float], phase: Callable[[], T]) -> tuple[float, T]:
        """`measure()` before and after `phase()`: their mean, and what the phase returned."""
        before = measure()
        result = phase()
        return (before + measure()) / 2, result


def bento_size(home: Path, folder: Path) -> str:
    """Build the Bento of `folder` into the BentoML home; its size and its model's on disk."""

    environment = {**os.environ, "BENTOML_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("fakeimage")), "bento", "--model", str(folder)]
    subprocess.run(command, env=environment, check=True, capture_output=True, cwd=REPO_ROOT)

    def megabytes(root: Path) -> float:
        return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20

    return f"{megabytes(home / 'bentos'):.2f} MB code + {megabytes(home / 'models'):.2f} MB model"
