"""The regression set: the images people reported as wrongly judged, which no new champion may
judge worse than the one it replaces.

`POST /feedback` keeps an image only with consent, under `<folder>/REAL|FAKE/<source>/`: each is
an answer the service got wrong, labelled by the person who saw it. Promote scores champion
and challenger on every such image (also those a fine-tune learnt from: the point is that a
fixed mistake stays fixed), and a challenger that gets fewer of them right keeps the champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeimage.data.dataset import Dataset
from fakeimage.data.images import BadImageError, load_model_input
from fakeimage.data.layout import list_labelled_files
from fakeimage.registry.promotion import Contender, Scored, correct


@dataclass(frozen=True)
class Regression:
    """Both models' accuracy on the reported images."""

    images: int
    champion: float
    challenger: float

    @property
    def passes(self) -> bool:
        return self.challenger >= self.champion

    def reason(self) -> str:
        return (
            f"it judges the {self.images} reported images worse than the champion "
            f"({self.challenger:.2%} vs {self.champion:.2%} right)"
        )

    def row(self) -> dict[str, float | int | bool]:
        return {
            "images": self.images,
            "champion": self.champion,
            "challenger": self.challenger,
            "passes": self.passes,
        }


def reported_images(folder: Path | None) -> Dataset | None:
    """The consented feedback images under folder, labelled by their class folder (None when
    there are none); unreadable files are skipped."""
    if folder is None or not folder.is_dir():
        return None
    pixels, labels, sources = [], [], []
    for item in list_labelled_files(folder, both_classes=False):
        try:
            pixels.append(load_model_input(item.path))
        except (BadImageError, OSError):
            continue
        labels.append(item.label)
        sources.append(item.source)
    if not pixels:
        return None
    return Dataset(np.stack(pixels), np.asarray(labels, np.uint8), np.asarray(sources, str))


def score_regression(champion: Contender, challenger: Contender, reported: Dataset) -> Regression:
    truth = np.asarray(reported.y).astype(np.int64)
    right = [
        correct(truth, Scored(model.score(reported.x), model.threshold)).mean()
        for model in (champion, challenger)
    ]
    return Regression(len(truth), float(right[0]), float(right[1]))
