"""Fixtures for the serving tests: a tiny packaged detector with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def detector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A packaged seed_cnn detector with random weights (name test-detector, version 7)."""
    import keras
    import numpy as np

    from fakeimage.config import ModelParams
    from fakeimage.data.hashes import training_record
    from fakeimage.models.card import ONNX_FILE
    from fakeimage.models.export import export_onnx
    from fakeimage.models.inference import load_detector, save_detector
    from fakeimage.models.zoo import seed_cnn
    from tests.cards import make_card

    keras.utils.set_random_seed(0)
    folder = tmp_path_factory.mktemp("serving") / "detector"
    card = make_card(name="test-detector", version="7")
    card = card.model_copy(
        update={"evaluation": card.evaluation.model_copy(update={"threshold": 0.5})}
    )
    record = training_record(np.zeros((1, 32, 32, 3), np.uint8))
    save_detector(folder, seed_cnn(ModelParams()), card, record)
    images = np.random.default_rng(0).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    onnx = export_onnx(load_detector(folder), folder / ONNX_FILE, images)
    card.model_copy(update={"onnx": onnx}).save(folder)
    return folder
