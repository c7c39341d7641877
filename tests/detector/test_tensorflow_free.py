"""The packaged-detector side never loads TensorFlow or Keras: serving, `fakeimage predict` and
the page import it, and each would pay seconds and hundreds of MB for a framework it never
runs."""

from __future__ import annotations

import pkgutil
from pathlib import Path

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
def test_the_check_sees_a_module_that_loads_keras_on_the_way(tmp_path: Path) -> None:
    # A stand-in keras, imported by a module that imports it indirectly: the check is about
    # what lands in sys.modules, and the real Keras would take seconds to show it.
    (tmp_path / "keras.py").write_text("")
    (tmp_path / "layers.py").write_text("import keras\n")
    (tmp_path / "detector_like.py").write_text("import layers\n")
    assert frameworks_loaded_by(["detector_like"], path=tmp_path) == ["keras"]
