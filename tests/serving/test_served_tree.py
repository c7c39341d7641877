"""`fakeimage serve` as `make serve` runs it: one small process tree, no TensorFlow anywhere.

The served folder has no ONNX graph (as the shipped reference before `make run`), so the
launcher exports one on the way, in a child that exits before the launcher becomes the
BentoML server: the tree that serves (launcher included, same pid) must not map libtensorflow
nor hold its 675 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from serving_samples import encode, noise

from tests.service_process import process_tree, run_service

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUESTS = 400
MAX_TREE_RSS_MB = 600


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_the_served_tree_stays_small_and_free_of_tensorflow(tmp_path: Path) -> None:
    import requests

    from tests.cards import save_servable_detector

    folder = save_servable_detector(tmp_path / "detector", onnx=False)
    images = [encode(noise(32, 32, seed=i), "JPEG") for i in range(16)]
    with run_service(tmp_path / "bentoml", model=folder, cwd=REPO_ROOT) as server:
        with requests.Session() as session:
            for i in range(REQUESTS):
                answer = session.post(
                    f"{server.url}/predict",
                    files={"image": (f"{i}.jpg", images[i % 16])},
                    timeout=60,
                )
                assert answer.status_code == 200, answer.text
        tree = process_tree(server.process.pid)
        rss_mb = server.tree_rss_mb()
        mapped = {
            member.pid: Path(f"/proc/{member.pid}/maps").read_text()
            for member in tree
            if member.status() != "zombie"
        }
        log = server.log.read_text(errors="replace")
    assert "exporting one (TensorFlow, in a child)" in log  # the launcher did export
    assert len(tree) == 3, [member.cmdline() for member in tree]  # server and its two workers
    assert tree[0].pid == server.process.pid  # the launcher became the server
    assert len(mapped) == len(tree)
    assert not [pid for pid, maps in mapped.items() if "libtensorflow" in maps]
    assert rss_mb <= MAX_TREE_RSS_MB, f"{rss_mb:.0f} MB"


@pytest.mark.timeout(120)
def test_serving_without_a_model_argument_is_one_line(tmp_path: Path) -> None:
    """`bentoml serve` of the service without `--arg model_tag=...` stops at once, saying how
    to start it; no worker starts (and fails, and restarts)."""
    bentoml = Path(sys.executable).with_name("bentoml")
    command = [str(bentoml), "serve", "fakeimage.serving.service:FakeImageDetector"]
    done = subprocess.run(
        [*command, "--port", "1"],
        cwd=REPO_ROOT,
        env={**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml")},
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode != 0
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "no model to serve: start the service with `fakeimage serve`" in lines[0]
