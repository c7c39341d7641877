"""TensorFlow's start-up notices are dropped; every other line written meanwhile stays."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from fakeimage.startup import start_up_notices_hidden

NOTICES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n",
    "I0000 00:00:1796299799.152247   24838 port.cc:153] oneDNN custom operations are on. You "
    "may see slightly different numerical results due to floating-point round-off errors.\n",
    "I0000 00:00:1796299799.207608   24838 cpu_feature_guard.cc:227] This TensorFlow binary "
    "is optimized to use available CPU instructions in performance-critical operations.\n",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.\n",
]


def test_notices_are_dropped_and_real_lines_pass(capfd: pytest.CaptureFixture[str]) -> None:
    with start_up_notices_hidden():
        for line in NOTICES:
            os.write(2, line.encode())
        os.write(2, b"E0000 real_op.cc:12] Could not load dynamic library 'libcuda.so.1'\n")
        os.write(2, b"W tensorflow: a real warning\n")
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert err == (
        "E0000 real_op.cc:12] Could not load dynamic library 'libcuda.so.1'\n"
        "W tensorflow: a real warning\nafter\n"
    )


@pytest.mark.timeout(120)
def test_importing_tensorflow_prints_nothing() -> None:
    code = "from fakeimage.startup import import_tensorflow; import_tensorflow(); print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0 and done.stdout == "ok\n"
    assert done.stderr == "", done.stderr


@pytest.mark.timeout(120)
def test_the_stages_started_without_tensorflow_do_not_import_it() -> None:
    """`fakeimage stage` imports TensorFlow quietly only for the stages that run a model; any
    other stage that imported it would print its notices (and wait seconds for it)."""
    from fakeimage.cli import STAGES, TENSORFLOW_STAGES

    light = [name for name in STAGES if name not in TENSORFLOW_STAGES]
    assert light  # fetch and preprocess
    code = (
        "import importlib, sys\n"
        f"for name in {light!r}:\n"
        "    importlib.import_module(f'fakeimage.stages.{name}')\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "[]\n"
