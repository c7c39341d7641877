"""The promote stage's work: the evaluated model challenges the champion in the registry.

The challenger is the folder the evaluate stage wrote (models/evaluated); the champion is the
version holding the alias, downloaded from the registry. Both are scored now on the current
validation images neither trained on (`promotion.challenge`). On a registry that lacks the
model, the shipped reference is imported first and becomes the champion, so every pipeline
model has to beat it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fakeimage.config import PromoteParams
from fakeimage.data.dataset import Dataset
from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import DetectorFolder
from fakeimage.models.keras_detector import Detector, load_detector
from fakeimage.registry import store
from fakeimage.registry.gates import summary
from fakeimage.registry.promotion import Contender, Decision, challenge
from fakeimage.registry.regression import score_regression


@dataclass(frozen=True)
class Promotion:
    """What promote decided, and the champion it leaves (local folder, registry version)."""

    decision: Decision
    champion: Detector
    champion_folder: DetectorFolder
    champion_version: str
    report: dict[str, Any] = field(default_factory=dict)
    """reports/promotion.json: the decision, the versions and runs, the comparison's figures."""

    @property
    def outcome(self) -> str:
        return "promoted" if self.decision.promote else "kept the champion"

    def champion_card(self, settings: PromoteParams, exported_at: str) -> ModelCard:
        """The champion's card as models/champion carries it: its name, version and alias,
        and why it holds the alias."""
        card = self.champion.card
        lineage = card.lineage.replace(promotion=self.report["champion_reason"])
        return card.replace(
            name=settings.model_name,
            version=self.champion_version,
            alias=settings.alias,
            lineage=lineage,
            exported_at=exported_at,
        )


def _contender(detector: Detector, folder: DetectorFolder) -> Contender:
    return Contender(
        score=detector.predict_proba,
        threshold=detector.threshold,
        training_images=folder.training_record(),
        real_data=detector.card.data.is_real,
    )


def promote(
    settings: PromoteParams,
    experiment: str,
    evaluated: DetectorFolder,
    val: Dataset,
    reference: DetectorFolder,
    scratch: Path,
    reported: Dataset | None = None,
) -> Promotion:
    """Register the evaluated model, challenge the champion with it, move the alias if it wins
    (and, given the reported images, if it judges them no worse: `registry.regression`)."""
    store.configure_tracking(experiment)
    registry = store.Registry(settings.model_name, settings.alias)
    imported = None
    if not registry.exists() and reference.model_file.is_file():
        imported = registry.import_reference(experiment, reference)
        registry.crown(imported)
        reason = "the shipped reference is the first champion"
        tags = {"promotion": "imported", "promotion_reason": reason}
        registry.describe(imported, reference.card(), tags)

    challenger = load_detector(evaluated.path)
    version = registry.register(challenger.card)
    previous = registry.champion()
    report: dict[str, Any] = {"metric": settings.metric}
    champion, champion_folder = challenger, evaluated
    if previous is None:
        decision = Decision(True, "there is no champion yet")
    elif previous.run_id == challenger.card.run_id:
        decision = Decision(False, "the evaluated model is already the champion")
    else:
        champion_folder = store.download_run_folder(previous.run_id, scratch)
        champion = load_detector(champion_folder.path)
        found = challenge(
            _contender(champion, champion_folder),
            _contender(challenger, evaluated),
            val,
            metric=settings.metric,
            min_unseen_images=settings.min_unseen_images,
            source_tolerance=settings.source_tolerance,
        )
        decision, comparison = found.decision, found.comparison
        report |= found.counts
        if comparison is not None:
            report |= {
                "images": comparison.images,
                "champion_score": comparison.champion,
                "challenger_score": comparison.challenger,
                "improvement_lower_bound": comparison.lower_bound,
                "source_tolerance": settings.source_tolerance,
                "sources": [gate.row() for gate in found.gates],
                "source_gates": summary(found.gates),
            }
        if reported is not None:
            regression = score_regression(
                _contender(champion, champion_folder), _contender(challenger, evaluated), reported
            )
            report["regression"] = regression.row()
            if decision.promote and not regression.passes:
                decision = Decision(False, regression.reason())
    if decision.promote:
        registry.crown(version)
        champion, champion_folder = challenger, evaluated
        if previous is not None:
            registry.retire(str(previous.version), version)
    outcome = "promoted" if decision.promote else "kept the champion"
    tags = {"promotion": outcome, "promotion_reason": decision.reason, **_tags(report)}
    registry.describe(version, challenger.card, tags)
    crowned = registry.champion()
    if crowned is None:
        raise RuntimeError(f"{settings.model_name}@{settings.alias} vanished during promote")
    report |= {
        "promoted": decision.promote,
        "reason": decision.reason,
        "reference_imported_as_version": imported,
        "challenger_run": challenger.card.run_id,
        "challenger_version": version,
        "previous_champion_version": str(previous.version) if previous else None,
        "previous_champion_run": previous.run_id if previous else None,
        "champion_version": str(crowned.version),
        "champion_run": crowned.run_id,
        "champion_reason": crowned.tags.get("promotion_reason"),
    }
    return Promotion(decision, champion, champion_folder, str(crowned.version), report)


def _tags(report: dict[str, Any]) -> dict[str, str]:
    keys = ("unseen_images", "champion_score", "challenger_score", "source_gates")
    tags = {
        key: f"{report[key]:.4f}" if isinstance(report[key], float) else str(report[key])
        for key in keys
        if key in report
    }
    if regression := report.get("regression"):
        tags["regression"] = (
            f"{regression['images']} reported images: champion {regression['champion']:.4f}, "
            f"challenger {regression['challenger']:.4f}"
        )
    return tags
