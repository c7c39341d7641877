"""MLflow set-up shared by every stage: one store, one experiment, provenance tags."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from fakeimage.paths import project_root, tracking_uri


def configure_tracking(experiment: str | None = None) -> str:
    """Point MLflow at the project's store (see paths.tracking_uri); select the experiment."""
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if experiment:
        mlflow.set_experiment(experiment)
    return uri


def _git(*args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def hardware_description() -> str:
    """CPU model and core count, plus GPUs if TensorFlow sees any: what timings ran on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    description = f"{cpu}, {os.cpu_count()} cores"
    if "tensorflow" in sys.modules:
        gpus = sys.modules["tensorflow"].config.list_physical_devices("GPU")
        if gpus:
            description += f", {len(gpus)} GPU(s)"
    return description


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
