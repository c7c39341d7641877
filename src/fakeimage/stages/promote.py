"""promote: the evaluated model challenges the champion on the same unseen images; write the
champion (with its checked ONNX graph) to models/champion and the decision to reports.

On a registry that lacks the model, the shipped reference is imported first and becomes the
champion. `models/champion/` is always the alias's model.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.data.dataset import load_split
from fakeimage.detector.folder import DetectorFolder
from fakeimage.models.export import write_with_onnx
from fakeimage.paths import (
    CHAMPION_DIR,
    EVALUATED_DIR,
    ONNX_CACHE_DIR,
    REFERENCE_DIR,
    REPORTS_DIR,
    split_path,
)
from fakeimage.registry.champion import promote
from fakeimage.registry.regression import reported_images
from fakeimage.registry.store import attach_graph


def run(params: Params) -> None:
    settings = params.promote
    val = load_split(split_path("val"))
    with tempfile.TemporaryDirectory(prefix="fakeimage-promote-") as scratch:
        promotion = promote(
            settings,
            params.mlflow.experiment,
            DetectorFolder(EVALUATED_DIR),
            val,
            DetectorFolder(REFERENCE_DIR),
            Path(scratch),
            reported_images(Path(settings.regression) if settings.regression else None),
        )
        now = datetime.now(UTC).isoformat(timespec="seconds")
        card = promotion.champion_card(settings, now)
        registered = promotion.champion_folder
        exported = write_with_onnx(
            promotion.champion, registered, CHAMPION_DIR, card, val.x, ONNX_CACHE_DIR
        )
        attach_graph(registered, exported)
    write_json(REPORTS_DIR / "promotion.json", promotion.report)
    print(
        f"promote: {promotion.outcome}: {promotion.decision.reason}; "
        f"{settings.model_name}@{settings.alias} is version {promotion.champion_version}, "
        f"exported to {CHAMPION_DIR}"
    )
    if gates := promotion.report.get("source_gates"):
        print(f"promote: per source, champion -> challenger on unseen validation: {gates}")
    if regression := promotion.report.get("regression"):
        print(
            f"promote: on the {regression['images']} reported images, champion "
            f"{regression['champion']:.2%} -> challenger {regression['challenger']:.2%} right"
        )
