"""params.yaml survives DVC's own edits: `dvc exp run -S` rewrites it keeping its comments, and
a comment in the wrong place once made it write YAML it could not read back (a list set, then
emptied). Checked on a bare repository whose one stage reads the list."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fakeimage.config import load_params
from repo_copy import BIN, IDENTITY, REPO_ROOT

pytestmark = pytest.mark.timeout(120)

EDITS = [
    "data.sources=[{name: FAKE, weight: 0.5}]",
    "data.sources=[]",
    "data.sources=[{name: FAKE/dcgan, weight: 0}, {name: REAL, weight: 2}]",
    "zoo.generators=[{family: vae, epochs: 2}]",
    "zoo.generators=[]",
]


def _run(command: list[str], cwd: Path) -> None:
    env = {**os.environ, **IDENTITY}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_list_edits_by_dvc_keep_params_readable(tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  show:\n    cmd: echo ok\n    params:\n      - data.sources\n      - zoo\n"
    )
    _run(["git", "init", "-q"], tmp_path)
    _run([str(BIN / "dvc"), "init", "-q"], tmp_path)
    _run(["git", "add", "-A"], tmp_path)
    _run(["git", "commit", "-qm", "params"], tmp_path)
    for edit in EDITS:
        _run([str(BIN / "dvc"), "exp", "run", "-q", "-S", edit], tmp_path)
        params = load_params(tmp_path / "params.yaml")
    assert params.data.weights == {"FAKE/dcgan": 0.0, "REAL": 2.0}
    assert params.zoo.generators == ()
