"""Fixtures for the serving tests: a tiny packaged detector with random weights."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def detector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A packaged seed_cnn detector with random weights (name test-detector, version 7)."""
    from tests.cards import save_servable_detector

    return save_servable_detector(tmp_path_factory.mktemp("serving") / "detector")
