"""`fakeimage drift`: the last answers of the log against the champion on its validation images.

The reference is what the served model answers on images like those it was validated on: the
prepared validation split (or any labelled folder, archive or split given), scored through the
same detector folder as the service, with the same uncertainty rule and feature summary. The
window is the last answers the log holds from that model version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeimage.detector.scoring import CardedDetector
from fakeimage.detector.uncertainty import uncertain_by_reason
from fakeimage.errors import UserError
from fakeimage.monitoring.answer_log import read_answers
from fakeimage.monitoring.drift import DriftReport, Stream, compare
from fakeimage.monitoring.summary import Summary, summary_rows

REFERENCE_IMAGES = 4000
"""Validation images scored for the reference (a random, seeded subset of bigger splits)."""


@dataclass(frozen=True)
class Drift:
    report: DriftReport
    reference: Stream
    window: Stream


def reference_stream(detector: CardedDetector, images: np.ndarray) -> Stream:
    """How the detector answers on these 32x32 images, as the service would log it."""
    assessed = detector.assess(images)
    rule = detector.card.uncertainty
    if rule is None:
        uncertain = np.zeros(len(images), bool)
    else:
        reasons = uncertain_by_reason(rule, assessed.prob_fake, assessed.distance, assessed.detail)
        uncertain = np.any(np.stack(list(reasons.values())), axis=0)
    summary = Summary.of(detector.stats) if detector.stats is not None else None
    # rounded as answers are (`build_prediction`): near 0 and 1, unrounded reference scores
    # would differ from every logged one and the P(fake) test would see drift in rounding
    prob_fake = np.round(assessed.prob_fake, 6)
    return Stream(prob_fake, uncertain, summary_rows(summary, assessed.features))


def measure_drift(
    detector: CardedDetector, images: np.ndarray, log: Path, window: int, *, seed: int = 0
) -> Drift:
    """Compare the log's last `window` answers from this detector's version with its answers
    on the reference images."""
    answers = read_answers(log, last=window, keep=lambda r: r.get("version") == detector.version)
    if len(answers) < window:
        raise UserError(
            f"{log} holds {len(answers)} answers from {detector.name} version "
            f"{detector.version}; the window needs {window} (lower --window, or wait)"
        )
    rng = np.random.default_rng(seed)
    if len(images) > REFERENCE_IMAGES:
        images = images[np.sort(rng.choice(len(images), REFERENCE_IMAGES, replace=False))]
    reference = reference_stream(detector, images)
    recent = Stream.of_records(answers)
    return Drift(compare(reference, recent, seed=seed), reference, recent)


def draw(drift: Drift, path: Path) -> Path:
    """The report as a figure: P(fake), the uncertain share and the first two feature axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fakeimage.figures import save_figure

    figure, (probs, shares, features) = plt.subplots(1, 3, figsize=(12, 3.6))
    bins = np.linspace(0, 1, 21)
    probs.hist(drift.reference.prob_fake, bins, density=True, alpha=0.6, label="validation")
    probs.hist(drift.window.prob_fake, bins, density=True, alpha=0.6, label="recent answers")
    probs.set(xlabel="P(fake)", ylabel="density", title="Calibrated P(fake)")
    probs.legend(fontsize=8)
    values = [drift.reference.uncertain.mean(), drift.window.uncertain.mean()]
    shares.bar(["validation", "recent"], values, color=["tab:blue", "tab:orange"])
    shares.set(ylim=(0, max(0.1, max(values) * 1.2)), title="Uncertain share")
    for stream, label in ((drift.reference, "validation"), (drift.window, "recent answers")):
        rows = stream.summary[np.isfinite(stream.summary).all(axis=1)]
        if rows.shape[1] >= 2:
            features.scatter(rows[:500, 0], rows[:500, 1], s=4, alpha=0.4, label=label)
    features.set(xlabel="feature axis 1", ylabel="feature axis 2", title="Network features")
    features.legend(fontsize=8)
    verdict = drift.report.verdict()
    figure.suptitle(verdict if len(verdict) < 140 else verdict[:137] + "...", fontsize=9)
    return save_figure(figure, path)
