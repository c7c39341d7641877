"""generate: train the generators listed in `zoo` on data/raw's REAL train images and write
their samples to data/zoo as FAKE sources (`<split>/FAKE/<generator>/`), with reports/zoo.json.

An empty list (the default) writes an empty data/zoo without importing TensorFlow.
"""

from __future__ import annotations

from fakeimage.atomic import write_json
from fakeimage.config import Params
from fakeimage.generators.build import build_zoo
from fakeimage.paths import RAW_DIR, REPORTS_DIR, ZOO_CHECKPOINT_DIR, ZOO_DIR


def run(params: Params) -> None:
    zoo = build_zoo(params.zoo, RAW_DIR, ZOO_DIR, ZOO_CHECKPOINT_DIR)
    write_json(REPORTS_DIR / "zoo.json", zoo.report)
    for line in zoo.summary():
        print(f"generate: {line}")
