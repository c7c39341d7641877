"""Where a run came from: the checkout, its git commit, the DVC experiment, the hardware.

Recorded as tags on every MLflow run (`fakeimage.registry.store`), so a figure can always be
traced back to the code, data and machine that produced it.
"""

from __future__ import annotations

import os
import subprocess

from fakeimage.hardware import hardware_description
from fakeimage.paths import project_root


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


def pinned_requirements() -> list[str]:
    """TensorFlow and Keras pinned to this environment's versions: what a logged network needs
    (given to MLflow, which would otherwise spend seconds inferring them)."""
    from importlib.metadata import PackageNotFoundError, version

    requirements = []
    for package in ("tensorflow-cpu", "tensorflow", "keras"):
        try:
            requirements.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return requirements
