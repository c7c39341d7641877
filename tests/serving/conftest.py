"""Fixtures for the serving tests: a tiny packaged detector with random weights."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# The service reads its settings when imported: its answer log and feedback go to scratch,
# never into the checkout.
_SCRATCH = Path(tempfile.mkdtemp(prefix="fakeimage-serving-"))
os.environ.setdefault("FAKEIMAGE_LOG_DIR", str(_SCRATCH / "answers"))
os.environ.setdefault("FAKEIMAGE_FEEDBACK_DIR", str(_SCRATCH / "feedback"))


@pytest.fixture(scope="session")
def detector_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A packaged seed_cnn detector with random weights (name test-detector, version 7)."""
    from tests.cards import save_servable_detector

    return save_servable_detector(tmp_path_factory.mktemp("serving") / "detector")
