"""generate: the default empty zoo is written in a moment without TensorFlow; a tiny zoo is
trained from data/raw's REAL images, written as FAKE sources and reported, and a re-run that
adds a generator trains only the new one."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from fakeimage.config import load_params
from fakeimage.data.layout import list_labelled_files
from fakeimage.paths import ZOO_CHECKPOINT_DIR, ZOO_DIR
from fakeimage.stages import generate

REPO = Path(__file__).resolve().parents[2]
ZOO, CHECKPOINTS, REPORT = ZOO_DIR, ZOO_CHECKPOINT_DIR, Path("reports/zoo.json")
TINY = {"epochs": 1, "train_images": 32, "batch_size": 16, "width": 8}


def _params(folder: Path, generators: list[dict]) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["zoo"].update(generators=generators, quality_images=20)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.mark.timeout(120)
def test_the_default_empty_zoo_is_written_without_tensorflow(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text((REPO / "params.yaml").read_text())
    (tmp_path / "data" / "zoo" / "train").mkdir(parents=True)  # an earlier zoo: replaced
    code = (
        "import sys\n"
        "from fakeimage.cli import main\n"
        "assert main(['stage', 'generate']) == 0\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=110
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "generate: no generators listed (zoo.generators): wrote an empty zoo",
        "[]",
    ]
    assert [path.name for path in (tmp_path / ZOO).iterdir()] == ["README.md"]
    report = json.loads((tmp_path / REPORT).read_text())
    assert report["generators"] == {} and report["cifake_fake_quality"] is None


@pytest.mark.timeout(180)
def test_a_tiny_zoo_is_trained_written_reported_and_extended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_cifake: Callable[..., dict]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_cifake(Path("data/raw"), {"train/REAL": 40, "train/FAKE": 10, "test/REAL": 2})
    (tmp_path / "data" / "raw" / "test" / "FAKE").mkdir()
    vae = {"family": "vae", "samples_train": 6, "samples_test": 3, **TINY}
    _params(tmp_path, [vae])
    generate.run(load_params())
    files = list_labelled_files(ZOO, both_classes=False)
    assert sorted({(f.split, f.source) for f in files}) == [("test", "vae"), ("train", "vae")]
    assert len(files) == 9 and all(f.label == 1 for f in files)
    row = json.loads(REPORT.read_text())["generators"]["vae"]
    assert (row["epochs"], row["epochs_this_session"], row["train_images"]) == (1, 1, 32)
    assert row["samples"] == {"train": 6, "test": 3} and row["seconds"] > 0
    assert 0 <= row["quality"]["roc_auc"] <= 1 and row["quality"]["images"] == 9

    dcgan = {"family": "dcgan", "name": "gan-a", "samples_train": 5, "samples_test": 0, **TINY}
    _params(tmp_path, [vae, dcgan])
    generate.run(load_params())
    rows = json.loads(REPORT.read_text())["generators"]
    assert rows["vae"]["epochs_this_session"] == 0  # resumed finished: sampled again only
    assert rows["gan-a"]["epochs_this_session"] == 1 and rows["gan-a"]["quality"]["images"] == 5
    assert sorted(p.name for p in CHECKPOINTS.iterdir()) == ["gan-a", "vae"]
    assert "Generators listed: gan-a, vae." in (ZOO / "README.md").read_text()

    _params(tmp_path, [dcgan])
    generate.run(load_params())
    assert [p.name for p in CHECKPOINTS.iterdir()] == ["gan-a"]  # nothing will resume the vae
    assert sorted(p.name for p in (ZOO / "train" / "FAKE").iterdir()) == ["gan-a"]
