"""Fixtures for the serving tests: a tiny packaged detector with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def detector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A packaged seed_cnn detector with random weights (name test-detector, version 7)."""
    import keras

    from fakeimage.config import ModelParams
    from fakeimage.models.inference import save_detector
    from fakeimage.models.zoo import seed_cnn

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("serving") / "detector"
    save_detector(
        folder, seed_cnn(ModelParams()), {"name": "test-detector", "version": "7", "threshold": 0.5}
    )
    return folder
