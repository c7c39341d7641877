"""Has the traffic changed? A window of logged answers against the champion's validation images.

Three two-sample tests, each on what the answer log keeps:
- **features**: the maximum mean discrepancy (MMD) between the windows' feature summaries
  (`monitoring.summary`, whitened principal axes of the network's features), Gaussian kernel
  at the median distance, with a permutation p-value. MMD compares whole multivariate
  distributions without a model to fit, so it needs no training data and no tuning, and the
  permutation test holds its false-alarm rate at any window size; a classifier two-sample
  test would need a split and a fitted classifier per window for the same guarantee.
- **P(fake)**: the two-sample Kolmogorov-Smirnov test on calibrated P(fake) (new generators
  answered REAL with confidence pile up near 0).
- **uncertain share**: Fisher's exact test on the counts of uncertain answers (blurred,
  large or unfamiliar images raise it).
The window drifts when any p-value is below alpha / 3 (Bonferroni), so the false-alarm rate
over in-distribution windows stays at most alpha.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.01
PERMUTATIONS = 500
CHECKS = 3
"""The tests run; each is held to ALPHA / CHECKS."""
MMD_ROWS = 1000
"""The feature test compares at most this many answers with twice as many reference ones."""


@dataclass(frozen=True)
class Stream:
    """Answers as the drift tests see them."""

    prob_fake: np.ndarray
    uncertain: np.ndarray
    summary: np.ndarray
    """(N, AXES) feature summaries; rows of NaN where none were kept."""

    def __len__(self) -> int:
        return len(self.prob_fake)

    @classmethod
    def of_records(cls, records: list[dict[str, Any]]) -> Stream:
        """The stream of logged answers (`serving.monitor.record`)."""
        width = max((len(r.get("summary") or ()) for r in records), default=0)
        rows = [r.get("summary") or [np.nan] * width for r in records]
        return cls(
            np.array([r["prob_fake"] for r in records], np.float64),
            np.array([bool(r["uncertain"]) for r in records]),
            np.array(rows, np.float64).reshape(len(records), width),
        )

    def sample(self, n: int, rng: np.random.Generator) -> Stream:
        if n >= len(self):
            return self
        keep = rng.choice(len(self), n, replace=False)
        return Stream(self.prob_fake[keep], self.uncertain[keep], self.summary[keep])


@dataclass(frozen=True)
class Check:
    """One test: its statistic, p-value, and what each side looks like."""

    name: str
    statistic: float | None
    """The test's statistic (None where it is undefined, e.g. Fisher's odds with a zero)."""
    p_value: float
    reference: float
    window: float
    """The reference's and the window's summary value (mean P(fake), uncertain share, or the
    mean distance of the summaries from the reference's centre)."""
    drifted: bool


@dataclass(frozen=True)
class DriftReport:
    window: int
    reference: int
    alpha: float
    checks: list[Check]
    skipped: list[str] = field(default_factory=list)
    """Tests that could not run, and why."""

    @property
    def drifted(self) -> bool:
        return any(check.drifted for check in self.checks)

    def verdict(self) -> str:
        """One line a person or a scheduler log can read."""
        failed = [c for c in self.checks if c.drifted]
        if not failed:
            return (
                f"no drift: the last {self.window} answers match the champion's validation "
                f"images (every p >= {self.alpha / CHECKS:.4f})"
            )
        parts = ", ".join(
            f"{c.name} (p = {c.p_value:.2g}; {c.reference:.3f} -> {c.window:.3f})" for c in failed
        )
        return f"DRIFT in the last {self.window} answers: {parts}"

    def as_json(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "verdict": self.verdict(),
            "window": self.window,
            "reference": self.reference,
            "alpha": self.alpha,
            "checks": [asdict(check) for check in self.checks],
            "skipped": self.skipped,
        }


def mmd_test(
    x: np.ndarray, y: np.ndarray, permutations: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Unbiased MMD^2 between samples x and y (Gaussian kernel, median bandwidth) and its
    permutation p-value."""
    pooled = np.concatenate([x, y])
    squared = np.sum(pooled**2, axis=1)
    distances = np.maximum(squared[:, None] + squared[None, :] - 2 * pooled @ pooled.T, 0)
    bandwidth = np.median(distances[np.triu_indices(len(pooled), 1)]) or 1.0
    kernel = np.exp(-distances / bandwidth)
    np.fill_diagonal(kernel, 0.0)  # the unbiased estimate leaves out each point with itself
    total = kernel.sum()
    n, m = len(x), len(y)

    # Every split at once: column j of `inside` marks which points are x in split j (the
    # first split is the observed one), and one matrix product scores them all.
    splits = [np.arange(n)] + [rng.permutation(len(pooled))[:n] for _ in range(permutations)]
    inside = np.zeros((len(pooled), len(splits)))
    for column, first in enumerate(splits):
        inside[first, column] = 1.0
    columns = kernel @ inside
    within_x = np.einsum("ij,ij->j", inside, columns)
    across = columns.sum(axis=0) - within_x
    within_y = total - within_x - 2 * across
    mmd = within_x / (n * (n - 1)) + within_y / (m * (m - 1)) - 2 * across / (n * m)
    observed = float(mmd[0])
    exceed = int(np.sum(mmd[1:] >= observed))
    return observed, (1 + exceed) / (1 + permutations)


def compare(
    reference: Stream,
    window: Stream,
    *,
    alpha: float = ALPHA,
    permutations: int = PERMUTATIONS,
    seed: int = 0,
) -> DriftReport:
    """Test a window of answers against the reference stream (subsampled to twice the window
    for the feature test, which grows with the square of the sample)."""
    if len(window) < 20 or len(reference) < 20:
        raise ValueError(f"too few answers to compare ({len(window)} vs {len(reference)})")
    rng = np.random.default_rng(seed)
    level = alpha / CHECKS
    checks = []
    ks = stats.ks_2samp(reference.prob_fake, window.prob_fake)
    checks.append(
        Check(
            "P(fake)",
            float(ks.statistic),
            float(ks.pvalue),
            float(reference.prob_fake.mean()),
            float(window.prob_fake.mean()),
            bool(ks.pvalue < level),
        )
    )
    table = [
        [int(reference.uncertain.sum()), int((~reference.uncertain).sum())],
        [int(window.uncertain.sum()), int((~window.uncertain).sum())],
    ]
    odds, p_uncertain = stats.fisher_exact(table)
    checks.append(
        Check(
            "uncertain share",
            float(odds) if np.isfinite(odds) else None,
            float(p_uncertain),
            float(reference.uncertain.mean()),
            float(window.uncertain.mean()),
            bool(p_uncertain < level),
        )
    )
    # MMD's matrices grow with the square of the samples: at most MMD_ROWS answers
    rows = window.sample(MMD_ROWS, rng).summary
    rows = rows[np.isfinite(rows).all(axis=1)]
    base = reference.sample(2 * len(rows), rng).summary
    base = base[np.isfinite(base).all(axis=1)]
    skipped = []
    if not (len(rows) >= 20 and len(base) >= 20 and rows.shape[1] == base.shape[1] > 0):
        skipped.append("features: the answers or the model carry no feature summaries")
    else:
        mmd, p_features = mmd_test(rows, base, permutations, rng)
        centre = base.mean(axis=0)
        spread = (
            float(np.linalg.norm(base - centre, axis=1).mean()),
            float(np.linalg.norm(rows - centre, axis=1).mean()),
        )
        checks.append(Check("features", mmd, p_features, *spread, bool(p_features < level)))
    return DriftReport(len(window), len(reference), alpha, checks, skipped)
