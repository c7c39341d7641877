"""promote: the best new run challenges the champion on the same unseen images; export the winner.

On a registry that lacks the model, the shipped reference is imported first and becomes the
champion, so every pipeline model has to beat it. `models/champion/` is always the alias's model.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from mlflow import MlflowClient

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.data.hashes import TRAINING_IMAGES_FILE, load_training_record
from fakeimage.data.preprocess import fingerprint, load_split
from fakeimage.models.card import ONNX_FILE, ModelCard
from fakeimage.models.export import export_onnx
from fakeimage.models.inference import MODEL_FILE, Detector, load_detector, save_detector
from fakeimage.paths import CHAMPION_DIR, REFERENCE_DIR, REPORTS_DIR, split_path
from fakeimage.registry.promotion import Comparison, Contender, Decision, challenge
from fakeimage.registry.store import (
    aliased_version,
    best_candidate,
    describe_version,
    download_detector_folder,
    has_registered_model,
    import_reference,
    register_run,
)
from fakeimage.tracking import configure_tracking


def run(params: Params) -> None:
    settings = params.promote
    name, alias = settings.model_name, settings.alias
    configure_tracking(params.mlflow.experiment)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(params.mlflow.experiment)
    imported = None
    if not has_registered_model(client, name) and (REFERENCE_DIR / MODEL_FILE).is_file():
        imported = import_reference(client, experiment.experiment_id, name, REFERENCE_DIR)
        client.set_registered_model_alias(name, alias, imported)
        reason = "the shipped reference is the first champion"
        describe_version(
            client,
            name,
            imported,
            ModelCard.load(REFERENCE_DIR),
            {"promotion": "imported", "promotion_reason": reason},
        )

    splits = {split: load_split(split_path(split)) for split in ("train", "val", "test")}
    candidate = best_candidate(
        client, experiment.experiment_id, fingerprint(splits), settings.metric
    )
    candidate_run = candidate.info.run_id
    candidate_version = register_run(client, name, candidate_run, candidate.data.tags["model_uri"])
    previous = aliased_version(client, name, alias)

    with tempfile.TemporaryDirectory(prefix="fakeimage-promote-") as scratch:
        folders = {candidate_run: download_detector_folder(candidate_run, Path(scratch))}
        detectors = {candidate_run: load_detector(folders[candidate_run])}  # each loaded once
        report: dict[str, Any] = {"metric": settings.metric}
        if previous is None:
            decision = Decision(True, "there is no champion yet")
        elif previous.run_id == candidate_run:
            decision = Decision(False, "the best new run is already the champion")
        else:
            folders[previous.run_id] = download_detector_folder(previous.run_id, Path(scratch))
            detectors[previous.run_id] = load_detector(folders[previous.run_id])
            decision, comparison, unseen = challenge(
                _contender(detectors[previous.run_id], folders[previous.run_id]),
                _contender(detectors[candidate_run], folders[candidate_run]),
                splits["val"].x,
                splits["val"].y,
                metric=settings.metric,
                min_unseen_images=settings.min_unseen_images,
            )
            report |= _comparison_report(comparison, unseen)
        if decision.promote:
            client.set_registered_model_alias(name, alias, candidate_version)
        challenger_card = detectors[candidate_run].card
        outcome = "promoted" if decision.promote else "kept the champion"
        describe_version(
            client,
            name,
            candidate_version,
            challenger_card,  # type: ignore[arg-type]
            {"promotion": outcome, "promotion_reason": decision.reason, **_tags(report)},
        )
        champion = aliased_version(client, name, alias)
        assert champion is not None
        _export(
            detectors[champion.run_id],
            folders[champion.run_id],
            name,
            champion.version,
            alias,
            champion.tags,
            splits["val"].x,
        )

    report |= {
        "promoted": decision.promote,
        "reason": decision.reason,
        "reference_imported_as_version": imported,
        "challenger_run": candidate_run,
        "challenger_version": candidate_version,
        "previous_champion_version": str(previous.version) if previous else None,
        "previous_champion_run": previous.run_id if previous else None,
        "champion_version": str(champion.version),
        "champion_run": champion.run_id,
    }
    write_json(REPORTS_DIR / "promotion.json", report)
    print(
        f"promote: {outcome}: {decision.reason}; {name}@{alias} is version {champion.version}, "
        f"exported to {CHAMPION_DIR}"
    )


def _contender(detector: Detector, folder: Path) -> Contender:
    assert detector.card is not None
    return Contender(
        score=detector.predict_proba,
        threshold=detector.threshold,
        training_images=load_training_record(folder / TRAINING_IMAGES_FILE),
        real_data=detector.card.data.is_real,
    )


def _comparison_report(comparison: Comparison | None, counts: dict[str, int]) -> dict[str, Any]:
    scores = {}
    if comparison is not None:
        scores = {
            "images": comparison.images,
            "champion_score": comparison.champion,
            "challenger_score": comparison.challenger,
            "improvement_lower_bound": comparison.lower_bound,
        }
    return {**counts, **scores}


def _tags(report: dict[str, Any]) -> dict[str, str]:
    keys = ("unseen_images", "champion_score", "challenger_score")
    return {
        key: f"{report[key]:.4f}" if isinstance(report[key], float) else str(report[key])
        for key in keys
        if key in report
    }


def _export(
    detector: Detector,
    folder: Path,
    name: str,
    version: str,
    alias: str,
    tags: dict[str, str],
    parity_images: np.ndarray,
) -> None:
    """Write the champion's folder (with its checked ONNX graph), its card naming the registry
    version and why it holds the alias."""
    assert detector.card is not None
    onnx = export_onnx(detector, folder / ONNX_FILE, parity_images)
    card = detector.card
    lineage = card.lineage.model_copy(update={"promotion": tags.get("promotion_reason")})
    card = card.model_copy(
        update={
            "name": name,
            "version": str(version),
            "alias": alias,
            "lineage": lineage,
            "onnx": onnx,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    record = load_training_record(folder / TRAINING_IMAGES_FILE)
    save_detector(
        CHAMPION_DIR, folder / MODEL_FILE, card, record, folder / ONNX_FILE, detector.stats
    )
