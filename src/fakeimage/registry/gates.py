"""Per-source gates: a challenger may not buy its overall lead with a loss on one source.

A detector that learns a new generator can forget an old one, or start calling photographs
FAKE, and still score better overall, because the overall score weighs each source by its
count. So promotion also compares the two models source by source (REAL, FAKE, each
generator, each folder of your own) on that source's validation images unseen by both, each
model at its own threshold: accuracy, which for a one-class source is its recall (FAKE) or
its specificity (REAL).

The rule: a source blocks the promotion when the challenger's accuracy on it is lower than
the champion's by more than `promote.source_tolerance` (0.003: 0.3 points) **and** the loss is
not sampling noise, i.e. the one-sided 95% upper bound of the paired bootstrap difference
(challenger minus champion, resampling that source's images) is below zero. A loss beyond
the tolerance on a few images that might as well have gone the other way does not block; a
loss beyond it that the images show with confidence always does. A source with fewer than
`MIN_IMAGES` unseen images is reported but never blocks: a bootstrap of a handful of images
claims a confidence it does not have (three images, all lost, would "prove" a loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
"""Bootstrap resamples and one-sided confidence, for the gates and the overall rule alike."""
MIN_IMAGES = 30
_ROUNDING = 1e-12


@dataclass(frozen=True)
class SourceGate:
    """One source's comparison: both accuracies, the bound of the change, and the tolerance."""

    source: str
    images: int
    champion: float
    challenger: float
    upper_bound: float
    """One-sided 95% upper bound of the paired accuracy change (challenger minus champion)."""
    tolerance: float

    @property
    def change(self) -> float:
        return self.challenger - self.champion

    @property
    def blocks(self) -> bool:
        confident = self.images >= MIN_IMAGES and self.upper_bound < 0
        return confident and -self.change > self.tolerance + _ROUNDING

    def describe(self) -> str:
        return (
            f"{self.source} {self.champion:.2%} (champion) vs {self.challenger:.2%} "
            f"({100 * self.change:+.2f} points, 95% bound {100 * self.upper_bound:+.2f}) on its "
            f"{self.images} unseen images"
        )

    def row(self) -> dict[str, str | int | float | bool]:
        """The source's line in the decision table (reports/promotion.json)."""
        return {
            "source": self.source,
            "images": self.images,
            "champion": round(self.champion, 6),
            "challenger": round(self.challenger, 6),
            "change": round(self.change, 6),
            "upper_bound": round(self.upper_bound, 6),
            "blocks": self.blocks,
        }


def source_gates(
    sources: np.ndarray,
    champion_right: np.ndarray,
    challenger_right: np.ndarray,
    tolerance: float,
    seed: int = 0,
) -> list[SourceGate]:
    """A gate per source from each model's per-image correctness (booleans) on the same images."""
    rng = np.random.default_rng(seed)
    gates = []
    for source in sorted(set(sources.tolist())):
        members = np.flatnonzero(sources == source)
        changes = challenger_right[members].astype(float) - champion_right[members]
        samples = rng.integers(0, len(members), size=(RESAMPLES, len(members)))
        gates.append(
            SourceGate(
                source=source,
                images=len(members),
                champion=float(champion_right[members].mean()),
                challenger=float(challenger_right[members].mean()),
                upper_bound=float(np.quantile(changes[samples].mean(axis=1), CONFIDENCE)),
                tolerance=tolerance,
            )
        )
    return gates


def blocking(gates: Sequence[SourceGate]) -> list[SourceGate]:
    """The sources on which the challenger loses beyond the tolerance, with confidence."""
    return [gate for gate in gates if gate.blocks]


def summary(gates: Sequence[SourceGate]) -> str:
    """One line for the registry version's tag: each source's change, blockers marked."""
    marks = {True: " BLOCKS", False: ""}
    return "; ".join(
        f"{gate.source} {gate.champion:.4f}->{gate.challenger:.4f}{marks[gate.blocks]}"
        for gate in gates
    )
