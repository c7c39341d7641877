"""Where the pipeline reads and writes, relative to the project root (DVC's working directory)."""

from __future__ import annotations

import os
from pathlib import Path

PARAMS = Path("params.yaml")
RAW_DIR = Path("data/raw")
DOWNLOADS_DIR = Path("data/downloads")
ZOO_DIR = Path("data/zoo")
"""The generator zoo's samples (the generate stage), extra FAKE sources for preprocess."""
ZOO_CHECKPOINT_DIR = Path("models/.zoo-checkpoint")
"""Each generator's state after every epoch, in a folder of its name; kept after the run, so
adding a generator to the list trains only that one."""
EXTRA_DIR = Path("data/extra")
"""Users' own sources beside the fetched data: `REAL|FAKE/<name>/` (split like the rest) or
`train|test/REAL|FAKE/<name>/`; each sub-folder becomes the source REAL/<name> or FAKE/<name>."""
PREPARED_DIR = Path("data/prepared")
REPORTS_DIR = Path("reports")
DATA_REPORT = REPORTS_DIR / "data.json"
TRAINED_DIR = Path("models/trained")
EVALUATED_DIR = Path("models/evaluated")
TRAIN_CHECKPOINT_DIR = Path("models/.train-checkpoint")
"""The train stage's state after each epoch, until its outputs are written."""
ONNX_CACHE_DIR = Path("models/.onnx-cache")
"""Converted ONNX graphs by what they were converted from (`models.export.converted_graph`)."""
CHAMPION_DIR = Path("models/champion")
REFERENCE_DIR = Path("models/reference")


def split_path(name: str) -> Path:
    return PREPARED_DIR / f"{name}.npz"


def project_root(start: Path | None = None) -> Path:
    """The checkout's root, also from inside a workspace of `dvc exp run --queue/--temp`.

    DVC runs queued experiments in `<root>/.dvc/tmp/exps/<name>/`; state that must be shared
    across experiments (the MLflow store) belongs to the root above it.
    """
    here = (start or Path.cwd()).resolve()
    parts = here.parts
    for index in range(len(parts) - 2):
        if parts[index : index + 3] == (".dvc", "tmp", "exps"):
            return Path(*parts[:index])
    return here


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else the sqlite store `mlflow.db` at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"
