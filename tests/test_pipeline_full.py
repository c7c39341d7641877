"""Integration: the whole pipeline (`dvc repro`) on the embedded real CIFAKE default, in a copy of
the repository, then the Bento, then a weak challenger on the shared sample.

fetch -> preprocess -> train -> evaluate -> promote, tracked in the copy's own MLflow store
(mlflow.db): the run the session shares (conftest.embedded_pipeline), which this module alone
goes on from. The shipped reference is imported as version 1 and stays champion; the Bento built
from it is served from BentoML's store in another folder; a deliberately weak experiment on
../shared/data/cifake-sample.zip does not take the alias.
"""

from __future__ import annotations

import json
import re
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fakeimage.detector.folder import (
    CARD_FILE,
    MARKDOWN_FILE,
    MODEL_FILE,
    ONNX_FILE,
    TRAINING_IMAGES_FILE,
)
from fakeimage.monitoring.answer_log import read_answers
from repo_copy import BIN, NEEDS_REAL_PIPELINE, SAMPLE, PipelineRun, edit_params_file, run
from tests.service_process import run_service

EXPERIMENT = "fake-image-detector"
MODEL_NAME = "fake-image-detector"

pytestmark = [*NEEDS_REAL_PIPELINE, pytest.mark.timeout(1200)]


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _evaluate(repo: Path, env: dict[str, str], model: str, data: str, output: str) -> dict:
    fakeimage = str(BIN / "fakeimage")
    run([fakeimage, "evaluate", "--model", model, "--data", data, "--output", output], repo, env)
    return _json(repo / output)


@dataclass
class Pipeline:
    """What the module's pipeline runs left behind."""

    repo: Path
    env: dict[str, str]
    uri: str
    first_output: str
    repeat_output: str
    promotion: dict
    champion_card: dict
    data_report: dict
    metrics: dict
    metrics_show: str
    on_sample: dict
    from_registry: dict
    weak_output: str
    weak_promotion: dict
    weak_champion_card: dict
    evaluate_only_output: str

    @property
    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)


@pytest.fixture(scope="module")
def pipeline(embedded_pipeline: PipelineRun) -> Pipeline:
    repo, env = embedded_pipeline.repo, embedded_pipeline.env
    dvc = str(BIN / "dvc")
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    reports = repo / "reports"
    state = {
        "promotion": _json(reports / "promotion.json"),
        "champion_card": _json(repo / "models" / "champion" / CARD_FILE),
        "data_report": _json(reports / "data.json"),
        "metrics": _json(reports / "metrics.json"),
    }
    metrics_show = run([dvc, "metrics", "show", "--json"], repo, env, timeout=120)
    on_sample = _evaluate(repo, env, "models/champion", str(SAMPLE), "sample.json")
    registry_env = {**env, "MLFLOW_TRACKING_URI": uri}
    from_registry = _evaluate(
        repo, registry_env, f"models:/{MODEL_NAME}@champion", "data/prepared/val.npz", "reg.json"
    )

    weak = ["-S", "data.source.kind=archive", "-S", f"++data.source.path={SAMPLE}"]
    weak += ["-S", "train.epochs=1"]
    weak += ["-S", "model.arch=seed_cnn", "-S", "train.learning_rate=0.00001"]
    started = time.monotonic()
    weak_output = run([dvc, "exp", "run", *weak], repo, env, timeout=420)
    print(f"dvc exp run (weak, on the sample): {time.monotonic() - started:.0f} s")
    # Only an evaluate param changes (on the weak experiment's workspace): the trained model is
    # reused, since models/trained is a DVC out.
    edit_params_file(repo, lambda params: params["evaluate"].update(uncertain_share=0.04))
    evaluate_only_output = run([dvc, "repro"], repo, env, timeout=420)
    return Pipeline(
        repo=repo,
        env=env,
        uri=uri,
        first_output=embedded_pipeline.output,
        repeat_output=embedded_pipeline.repeat_output,
        metrics_show=metrics_show,
        on_sample=on_sample,
        from_registry=from_registry,
        weak_output=weak_output,
        weak_promotion=_json(reports / "promotion.json"),
        weak_champion_card=_json(repo / "models" / "champion" / CARD_FILE),
        evaluate_only_output=evaluate_only_output,
        **state,
    )


def test_every_stage_ran_on_the_embedded_data_and_nothing_reruns(pipeline: Pipeline) -> None:
    for stage in ("fetch", "preprocess", "train", "evaluate", "promote"):
        assert f"Running stage '{stage}'" in pipeline.first_output
    assert "fetch: 4,000 images from 'embedded'" in pipeline.first_output
    # the project's own lines, not the libraries' (DVC on an empty zoo, Keras's early stopping)
    trained = r"train: seed_cnn, best epoch \d+/\d+(, | \(stopped early)"
    assert re.search(trained, pipeline.first_output)
    assert "Restoring model weights" not in pipeline.first_output
    assert "WARNING: 'data/zoo' is empty" not in pipeline.first_output
    assert pipeline.data_report["classes"] == {"REAL": 2000, "FAKE": 2000}
    assert "Data and pipelines are up to date." in pipeline.repeat_output
    assert "Running stage" not in pipeline.repeat_output
    for name in (MODEL_FILE, CARD_FILE, TRAINING_IMAGES_FILE, MARKDOWN_FILE, ONNX_FILE):
        assert (pipeline.repo / "models" / "champion" / name).is_file(), name


def test_the_reference_is_imported_and_stays_champion(pipeline: Pipeline) -> None:
    promotion = pipeline.promotion
    assert promotion["reference_imported_as_version"] == "1"
    assert promotion["promoted"] is False and promotion["champion_version"] == "1"
    # Both scored on the same validation images, none of which either model trained on.
    validation = pipeline.data_report["splits"]["val"]["total"]
    assert promotion["unseen_images"] == promotion["images"] == validation == 320
    assert promotion["seen_by_champion"] == promotion["seen_by_challenger"] == 0
    assert promotion["champion_score"] >= 0.95 > promotion["challenger_score"]
    assert f"on the same {validation} unseen images" in promotion["reason"]
    line = next(x for x in pipeline.first_output.splitlines() if x.startswith("promote:"))
    assert "kept the champion" in line and "version 1" in line

    card = pipeline.champion_card
    assert (card["name"], card["version"], card["alias"]) == (MODEL_NAME, "1", "champion")
    assert card["lineage"]["imported"] is True
    assert card["architecture"]["arch"] == "fidelity_se_net"

    client = pipeline.client
    version = client.get_model_version(MODEL_NAME, "1")
    assert version.tags["promotion"] == "imported" and version.tags["data_source"] == "archive"
    assert "fidelity_se_net" in version.description
    imported = client.get_run(version.run_id)
    assert imported.data.tags["imported"] == "true"
    assert imported.data.params["model.arch"] == "fidelity_se_net"
    assert imported.data.metrics["test_accuracy"] > 0.97
    challenger = client.get_model_version(MODEL_NAME, "2")
    assert challenger.tags["promotion"] == "kept the champion"
    assert challenger.tags["promotion_reason"] == promotion["reason"]
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_the_champion_scores_real_cifake_from_its_folder_and_the_registry(
    pipeline: Pipeline,
) -> None:
    assert pipeline.on_sample["n"] == 2000
    assert pipeline.on_sample["accuracy"] >= 0.95 and pipeline.on_sample["roc_auc"] >= 0.99
    assert pipeline.from_registry["accuracy"] >= 0.95
    shown = json.dumps(json.loads(pipeline.metrics_show))
    assert "reports/promotion.json" in shown and "reports/metrics.json" in shown


def test_a_weak_challenger_on_the_sample_keeps_the_champion(pipeline: Pipeline) -> None:
    assert "Running stage 'train'" in pipeline.weak_output
    promotion = pipeline.weak_promotion
    assert promotion["promoted"] is False and promotion["champion_version"] == "1"
    assert promotion["reference_imported_as_version"] is None
    # Most of the sample comes from the reference's own training split: those are excluded.
    assert promotion["seen_by_champion"] > 0
    assert (
        promotion["unseen_images"]
        == promotion["validation_images"] - (promotion["seen_by_champion"])
    )
    assert pipeline.weak_champion_card["version"] == "1"
    assert pipeline.weak_champion_card["lineage"]["imported"] is True


def _fake_image(target: Path) -> Path:
    with zipfile.ZipFile(SAMPLE) as archive:
        name = next(n for n in archive.namelist() if "/FAKE/" in n and n.endswith(".jpg"))
        target.write_bytes(archive.read(name))
    return target


def test_the_bento_carries_the_champion_and_serves_it_from_another_folder(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    output = run([str(BIN / "fakeimage"), "bento"], pipeline.repo, pipeline.env, timeout=300)
    bento = output.split("built ", 1)[1].split()[0]
    model_tag = output.split("serving BentoML model ", 1)[1].split(";")[0]
    assert model_tag.startswith("fake-image-detector:v1-")
    listed = json.loads(run([str(BIN / "bentoml"), "list", "-o", "json"], tmp_path, pipeline.env))
    (entry,) = [item for item in listed if item["tag"] == bento]
    assert entry["model_size"] not in ("0.00 B", "0 B", "")
    models = run([str(BIN / "bentoml"), "models", "list"], tmp_path, pipeline.env)
    assert model_tag in models

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in pipeline.env.items() if k != "PYTHONPATH"}  # the Bento's own code
    env |= {"FAKEIMAGE_LOG_DIR": "logs/answers", "FAKEIMAGE_FEEDBACK_DIR": "data/feedback"}
    home = Path(pipeline.env["BENTOML_HOME"])
    image = _fake_image(tmp_path / "fake.jpg")
    with run_service(home, env=env, cwd=elsewhere, target=bento) as server:
        import requests

        with image.open("rb") as handle:
            answer = requests.post(f"{server.url}/predict", files={"image": handle}, timeout=60)
        log = server.log.read_text(errors="replace")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["label"] == "FAKE"
    assert body["model"] == {"name": MODEL_NAME, "version": "1"}
    assert f"BentoML model {model_tag}" in log
    # what it writes lands in BentoML's home, not in the Bento (replaced on rebuild, read-only
    # in an image) nor in the folder it was started from
    logged = home / "fakeimage" / "logs" / "answers"
    assert f"answers logged in {logged}" in log
    assert [record["request_id"] for record in read_answers(logged)] == [body["request_id"]]
    assert (home / "fakeimage" / "data" / "feedback" / ".request-id-key").is_file()
    name, version = bento.split(":")
    assert not (home / "bentos" / name / version / "src" / "logs").exists()
    assert not list(elsewhere.iterdir())


def test_changing_an_evaluate_param_reruns_evaluate_and_promote_only(pipeline: Pipeline) -> None:
    output = pipeline.evaluate_only_output
    for stage in ("evaluate", "promote"):
        assert f"Running stage '{stage}'" in output
    for stage in ("fetch", "preprocess", "train"):
        assert f"Running stage '{stage}'" not in output
    for handoff in ("trained", "evaluated", "champion"):
        assert (pipeline.repo / "models" / handoff / CARD_FILE).is_file(), handoff
