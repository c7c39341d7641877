"""The packaged-detector side never loads TensorFlow or Keras: serving, `fakeimage predict` and
the page import it, and each would pay seconds and hundreds of MB for a framework it never
runs."""

from __future__ import annotations

import pkgutil

import pytest

import fakeimage.detector
from tests.imports import frameworks_loaded_by


@pytest.mark.timeout(120)
def test_every_detector_module_imports_without_tensorflow_or_keras() -> None:
    modules = sorted(
        f"fakeimage.detector.{info.name}"
        for info in pkgutil.iter_modules(fakeimage.detector.__path__)
    )
    assert {"fakeimage.detector.folder", "fakeimage.detector.onnx_runtime"} <= set(modules)
    assert frameworks_loaded_by(modules) == []


@pytest.mark.timeout(120)
def test_the_check_sees_a_module_that_loads_keras() -> None:
    assert "keras" in frameworks_loaded_by(["fakeimage.models.zoo"])
