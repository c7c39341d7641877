"""The packaged-detector side never loads TensorFlow or Keras: serving, `fakeimage predict` and
the page import it, and each would pay seconds and hundreds of MB for a framework it never
runs."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import fakeimage.detector


@pytest.mark.timeout(120)
def test_every_detector_module_imports_without_tensorflow_or_keras() -> None:
    modules = sorted(
        f"fakeimage.detector.{info.name}"
        for info in pkgutil.iter_modules(fakeimage.detector.__path__)
    )
    assert {"fakeimage.detector.folder", "fakeimage.detector.onnx_runtime"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'tf2onnx') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
