"""train, evaluate and promote run in-process on tiny arrays and a throw-away MLflow store.

The shipped reference is stood in for by a tiny random detector with a real card, so the
reference import, the champion rule and the export are exercised in seconds, with no
../shared data.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import keras
import mlflow
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient

from fakeimage.config import load_params
from fakeimage.data.dataset import Dataset, fingerprint, save_split
from fakeimage.detector.card import ModelCard, SourceScores
from fakeimage.detector.folder import MARKDOWN_FILE, MODEL_FILE, ONNX_FILE, DetectorFolder
from fakeimage.errors import UserError
from fakeimage.paths import (
    CHAMPION_DIR,
    REFERENCE_DIR,
    REPORTS_DIR,
    TRAIN_CHECKPOINT_DIR,
    TRAINED_DIR,
    split_path,
)
from fakeimage.registry.store import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, fetch_detector
from fakeimage.training.checkpoint import PROGRESS_FILE
from tests.cards import save_servable_detector

pytestmark = pytest.mark.slow  # real training, in this process

REPO = Path(__file__).resolve().parents[2]


def _dataset(n: int, seed: int) -> Dataset:
    """Bright images are FAKE, dark ones REAL: learnable in one epoch. Every other FAKE image
    comes from a second source, "dcgan"."""
    rng = np.random.default_rng(seed)
    y = np.tile(np.array([0, 1], np.uint8), n // 2)
    base = np.where(y[:, None, None, None] == 1, 170, 70)
    x = np.clip(base + rng.normal(0, 30, (n, 32, 32, 3)), 0, 255).astype(np.uint8)
    sources = np.where((y == 1) & (np.arange(n) % 4 == 1), "dcgan", "")
    return Dataset(x, y, sources)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)  # not the store an earlier test's stages configured
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"].update(epochs=1, batch_size=32)
    params["promote"]["min_unseen_images"] = 40
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    splits = {"train": _dataset(128, 0), "val": _dataset(120, 1), "test": _dataset(60, 2)}
    for name, data in splits.items():
        save_split(data, split_path(name))
    counts = {
        name: {"total": len(d.y), "REAL": int((d.y == 0).sum()), "FAKE": int((d.y == 1).sum())}
        for name, d in splits.items()
    }
    REPORTS_DIR.mkdir()
    report = {"splits": counts, "fingerprint": fingerprint(splits)}
    (REPORTS_DIR / "data.json").write_text(json.dumps(report))
    # The reference "trained" on the first 40 validation images: they must not be compared on.
    save_servable_detector(
        REFERENCE_DIR,
        onnx=False,  # as the shipped one
        trained_on=splits["val"].x[:40],
        name="reference",
        version="ref-1",
        alias=None,
        run_id="elsewhere",
        params=load_params(),
    )
    try:
        yield tmp_path
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        shutil.rmtree(tmp_path / "mlruns", ignore_errors=True)


def _source_scores(rows: dict[str, dict]) -> dict[str, SourceScores]:
    return {name: SourceScores(**row) for name, row in rows.items()}


def _run_stages(*names: str) -> None:
    import importlib

    params = load_params()
    for name in names:
        importlib.import_module(f"fakeimage.stages.{name}").run(params)


def test_train_evaluate_promote_import_the_reference_once(project: Path) -> None:
    from PIL import Image

    # images people reported (POST /feedback with consent): the regression set
    for label, shade in (("FAKE", 220), ("REAL", 30)):
        folder = project / "data" / "feedback" / label / "reported"
        folder.mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (32, 32), (shade, shade - 10 * i, shade)).save(folder / f"{i}.png")
    _run_stages("train", "evaluate", "promote")
    client = MlflowClient()
    report = json.loads((REPORTS_DIR / "promotion.json").read_text())

    # The reference became version 1 and the champion before anything challenged it.
    assert report["reference_imported_as_version"] == "1"
    assert report["previous_champion_version"] == "1" and report["challenger_version"] == "2"
    reference = client.get_model_version("fake-image-detector", "1")
    assert reference.tags["promotion"] == "imported"
    imported = client.get_run(reference.run_id).data.tags
    assert imported["imported"] == "true"
    assert imported["mlflow.note.content"].startswith("The shipped reference (")
    assert "| test accuracy | ROC-AUC |" in imported["mlflow.note.content"]

    # Both scored on the same validation images, minus the 40 the reference trained on.
    assert report["seen_by_champion"] == 40 and report["seen_by_challenger"] == 0
    assert report["unseen_images"] == report["images"] == 80
    assert 0 <= report["champion_score"] <= 1 and 0 <= report["challenger_score"] <= 1
    # The decision table: both models' accuracy on each source's unseen images.
    rows = {row["source"]: row for row in report["sources"]}
    assert set(rows) == {"REAL", "FAKE", "FAKE/dcgan"}
    assert sum(row["images"] for row in rows.values()) == 80
    blocked = any(row["blocks"] for row in rows.values())
    regression = report["regression"]
    assert regression["images"] == 6 and 0 <= regression["champion"] <= 1
    assert regression["passes"] == (regression["challenger"] >= regression["champion"])
    ahead = report["improvement_lower_bound"] > 0 and not blocked
    assert report["promoted"] == (ahead and regression["passes"])

    # The alias, the exported folder and the registry agree.
    champion = client.get_model_version_by_alias("fake-image-detector", "champion")
    assert report["champion_version"] == str(champion.version)
    card = DetectorFolder(CHAMPION_DIR).card()
    assert (card.name, card.version, card.alias) == (
        "fake-image-detector",
        str(champion.version),
        "champion",
    )
    assert card.lineage.promotion and (CHAMPION_DIR / MARKDOWN_FILE).is_file()
    # The champion's run got the graph promote exported: a fetched version scores as served.
    fetched = fetch_detector("models:/fake-image-detector@champion", project / "fetched")
    assert fetched.has_onnx() and fetched.card().onnx == card.onnx
    assert fetched.onnx_file.read_bytes() == (CHAMPION_DIR / ONNX_FILE).read_bytes()
    challenger = client.get_model_version("fake-image-detector", "2")
    assert challenger.tags["promotion_reason"] == report["reason"]
    assert challenger.tags["source_gates"] == report["source_gates"]
    assert challenger.tags["regression"].startswith("6 reported images: champion ")
    assert challenger.tags["data_source"] == "embedded" and challenger.description
    accuracy = challenger.tags["test_accuracy"]  # the same figure in the tag and the words
    assert re.fullmatch(r"[01]\.\d{4}", accuracy)
    assert f"test accuracy {accuracy}." in challenger.description
    # The registry says in words which version serves and why; no local paths.
    took = "Took @champion" if report["promoted"] else "Did not take @champion"
    assert challenger.description.startswith(f"{took}: {report['reason']}")
    assert "images (FAKE, FAKE/dcgan, REAL)" in challenger.description
    reference = client.get_model_version("fake-image-detector", "1")
    assert "Took @champion: the shipped reference is the first champion" in reference.description
    assert "../shared" not in reference.description and "/work" not in reference.description
    if report["promoted"]:
        assert reference.description.startswith("Held @champion until version 2 took it.")
    model = client.get_registered_model("fake-image-detector")
    assert f"Served: version {champion.version} (@champion)" in model.description
    # Runs are named by what they are, and their description leads with the headline figures.
    run = client.get_run(challenger.run_id)
    assert run.info.run_name.startswith("seed_cnn w") and "embedded, 2 fake sources" in (
        run.info.run_name
    )
    note = run.data.tags["mlflow.note.content"]
    assert note.startswith("| test accuracy | ROC-AUC |") and "recall dcgan" in note
    assert "**seed_cnn**" in note and "fake sources: FAKE, FAKE/dcgan" in note

    # The dashboard opens the experiment as model training, not GenAI traces.
    experiment = client.get_experiment_by_name("fake-image-detector")
    assert experiment.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND

    # The trained folder carries its card and training record; evaluate logged the full card.
    trained = DetectorFolder(TRAINED_DIR).card()
    assert trained.training_images.count == 128 and trained.evaluation is None
    assert sum(trained.data.trained_sources.values()) == trained.data.splits["train"].total
    logged = ModelCard.from_json(
        mlflow.artifacts.load_text(f"runs:/{trained.run_id}/detector/card.json")
    )
    assert logged.evaluation is not None and logged.calibration is not None
    # calibration and the uncertainty rule were chosen on validation, and saved with the model
    rule = logged.uncertainty
    assert rule is not None and rule.band[0] <= logged.threshold <= rule.band[1]
    assert rule.val_share <= 0.03
    assert set(rule.val_shares) == {"near_threshold", "little_detail", "unfamiliar"}
    assert logged.evaluation.selective is not None
    assert logged.evaluation.selective.n == 60
    stats = mlflow.artifacts.download_artifacts(
        f"runs:/{trained.run_id}/detector/{rule.feature_file}", dst_path=str(project / "stats")
    )
    assert Path(stats).is_file()
    if champion.run_id == trained.run_id:
        assert (CHAMPION_DIR / rule.feature_file).is_file()
    metrics = json.loads((REPORTS_DIR / "metrics.json").read_text())
    assert metrics["uncertainty"]["val_share"] == rule.val_share
    # per source: the test split's 30 REAL, 15 FAKE and 15 FAKE/dcgan images, and the total
    sources = metrics["sources"]
    assert {name: row["n"] for name, row in sources.items()} == {
        "FAKE": 15,
        "FAKE/dcgan": 15,
        "REAL": 30,
        "all": 60,
    }
    assert logged.evaluation.sources == _source_scores(sources)
    history = client.get_run(trained.run_id).data.metrics
    assert history["source_FAKE/dcgan_accuracy"] == sources["FAKE/dcgan"]["accuracy"]
    assert (REPORTS_DIR / "figures" / "sources.png").is_file()
    assert json.loads((REPORTS_DIR / "plots" / "coverage.json").read_text())[-1]["coverage"] == 1

    # A second promote imports nothing and registers nothing new.
    _run_stages("promote")
    again = json.loads((REPORTS_DIR / "promotion.json").read_text())
    assert again["reference_imported_as_version"] is None
    assert len(client.search_model_versions("name = 'fake-image-detector'")) == 2


def test_a_model_fine_tuned_from_another_records_its_lineage(project: Path) -> None:
    """train.init_from starts from the reference's weights; MLflow and the card say so."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["train"].update(init_from=str(REFERENCE_DIR), learning_rate=1e-9)
    Path("params.yaml").write_text(yaml.safe_dump(params))
    parent = keras.saving.load_model(REFERENCE_DIR / MODEL_FILE)
    _run_stages("train")

    card = DetectorFolder(TRAINED_DIR).card()
    assert card.lineage.parent is not None
    assert (card.lineage.parent.name, card.lineage.parent.version) == ("reference", "ref-1")
    assert card.lineage.parent.location == str(REFERENCE_DIR)
    # a learning rate of 1e-9 barely moves the weights: they are the parent's
    child = keras.saving.load_model(TRAINED_DIR / MODEL_FILE)
    for ours, theirs in zip(child.get_weights(), parent.get_weights(), strict=True):
        np.testing.assert_allclose(ours, theirs, atol=1e-4)
    # the child's record holds its 128 training images and the parent's 40
    assert card.training_images.count == 128 + 40
    tags = MlflowClient().get_run(card.run_id).data.tags
    assert tags["parent_model"] == "reference@ref-1" and tags["parent_run_id"] == "elsewhere"

    # a network of another shape cannot start from those weights: one clear line
    params["model"]["arch"] = "fidelity_net"
    Path("params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(UserError, match=r"train.init_from: .* was built with model.arch=seed_cnn"):
        _run_stages("train")


def test_train_killed_by_sigkill_resumes_in_the_same_mlflow_run(project: Path) -> None:
    """A real kill -9 mid-run: the same command finishes the run it interrupted."""
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["train"].update(epochs=8, patience=8)
    Path("params.yaml").write_text(yaml.safe_dump(params))
    command = [str(Path(sys.executable).with_name("fakeimage")), "stage", "train"]
    progress_file = TRAIN_CHECKPOINT_DIR / PROGRESS_FILE
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
        deadline = time.monotonic() + 300
        while not (
            progress_file.is_file() and json.loads(progress_file.read_text())["next_epoch"] >= 2
        ):
            assert child.poll() is None, child.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no epoch finished in 300 s"
            time.sleep(0.02)
        child.kill()
    assert child.returncode == -signal.SIGKILL
    killed = json.loads(progress_file.read_text())
    assert 2 <= killed["next_epoch"] < 8
    client = MlflowClient()
    assert client.get_run(killed["run_id"]).info.status == "RUNNING"  # until resumed
    assert not TRAINED_DIR.exists()  # nothing half-written

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming after epoch {killed['next_epoch']}" in again.stdout
    card = DetectorFolder(TRAINED_DIR).card()
    assert card.run_id == killed["run_id"] and card.training.epochs_run == 8
    assert client.get_run(card.run_id).info.status == "FINISHED"
    assert len(client.get_metric_history(card.run_id, "val_loss")) >= 8
    assert not TRAIN_CHECKPOINT_DIR.exists()
