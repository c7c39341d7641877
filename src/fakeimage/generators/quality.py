"""How far plain image statistics alone tell a generator's samples from REAL photographs.

A detector trained on blurry or washed-out fakes learns "low quality means fake" and then
calls every soft real photo fake. So each generator of the zoo is scored by what a detector
could learn without looking at any generator trace: a logistic regression on a few
hand-made statistics (fine detail, edge strength, colour saturation, contrast), its ROC-AUC
cross-validated. 0.5 means the statistics cannot tell; near 1, the samples give themselves
away by their quality, and a detector may win by spotting blur or mush. Each statistic's
own ROC-AUC (folded to >= 0.5) says which gives them away. Plain NumPy and scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fakeimage.detector.uncertainty import detail_energy

FEATURES = ("detail", "edges", "saturation", "contrast")
"""detail: what a 2x2 average removes (RMS, log); edges: the Laplacian's variance (log);
saturation: HSV saturation's mean; contrast: the grey levels' standard deviation."""

FOLDS = 5


@dataclass(frozen=True)
class Separability:
    roc_auc: float
    """Cross-validated ROC-AUC of a logistic regression on all FEATURES."""
    features: dict[str, float]
    """Each feature's ROC-AUC alone, folded to >= 0.5 (whichever side it leans)."""
    images: int
    """Images per class compared."""

    def as_dict(self) -> dict[str, object]:
        features = {name: round(value, 4) for name, value in self.features.items()}
        return {"roc_auc": round(self.roc_auc, 4), "features": features, "images": self.images}


def quality_features(images: np.ndarray) -> np.ndarray:
    """The FEATURES of uint8 images (n, 32, 32, 3), float64 (n, len(FEATURES))."""
    pixels = np.asarray(images, dtype=np.float64)
    grey = pixels.mean(axis=-1)
    laplacian = (
        grey[:, :-2, 1:-1] + grey[:, 2:, 1:-1] + grey[:, 1:-1, :-2] + grey[:, 1:-1, 2:]
    ) - 4 * grey[:, 1:-1, 1:-1]
    brightest, darkest = pixels.max(axis=-1), pixels.min(axis=-1)
    saturation = np.where(brightest > 0, (brightest - darkest) / np.maximum(brightest, 1), 0)
    return np.stack(
        [
            np.log1p(detail_energy(images)),
            np.log1p(laplacian.var(axis=(1, 2))),
            saturation.mean(axis=(1, 2)),
            grey.std(axis=(1, 2)),
        ],
        axis=1,
    )


def separability(fake: np.ndarray, real: np.ndarray, seed: int = 0) -> Separability | None:
    """How well FEATURES separate `fake` from `real` images, on as many of each; None with
    fewer than FOLDS of either, too few to cross-validate."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    count = min(len(fake), len(real))
    if count < FOLDS:
        return None
    x = np.concatenate([quality_features(fake[:count]), quality_features(real[:count])])
    y = np.concatenate([np.ones(count), np.zeros(count)])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, x, y, cv=folds, method="decision_function")
    alone = {}
    for index, name in enumerate(FEATURES):
        auc = float(roc_auc_score(y, x[:, index]))
        alone[name] = max(auc, 1 - auc)
    return Separability(float(roc_auc_score(y, scores)), alone, count)
