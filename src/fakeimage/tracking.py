"""MLflow set-up shared by every stage: one store, one experiment, provenance tags."""

from __future__ import annotations

import logging
import os
import subprocess

from fakeimage.hardware import hardware_description
from fakeimage.paths import project_root, tracking_uri

# The MLflow UI opens an experiment by its kind: model training, not the GenAI traces overview.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def configure_tracking(experiment: str | None = None) -> str:
    """Point MLflow at the project's store (see paths.tracking_uri); select the experiment."""
    import mlflow

    # stage output stays ours: no progress bars, no notices about creating tables or experiments
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        selected = mlflow.set_experiment(experiment)
        if selected.tags.get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
            mlflow.MlflowClient().set_experiment_tag(
                selected.experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
            )
    return uri


def model_requirements() -> list[str]:
    """What a logged Keras model needs, pinned to this environment: given, so MLflow skips its
    slow requirement inference (about 10 s a model)."""
    from importlib.metadata import PackageNotFoundError, version

    requirements = []
    for package in ("tensorflow-cpu", "tensorflow", "keras"):
        try:
            requirements.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return requirements


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def provenance_tags() -> dict[str, str]:
    """Where a run came from: git commit (and whether the tree was dirty), DVC experiment."""
    tags = {"project_root": str(project_root()), "hardware": hardware_description()}
    if commit := _git("rev-parse", "HEAD"):
        tags["git_commit"] = commit
        tags["git_dirty"] = str(bool(_git("status", "--porcelain", "--untracked-files=no")))
    if name := os.environ.get("DVC_EXP_NAME"):
        tags["dvc_experiment"] = name
    if baseline := os.environ.get("DVC_EXP_BASELINE_REV"):
        tags["dvc_baseline_rev"] = baseline
    return tags
