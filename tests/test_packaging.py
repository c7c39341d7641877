"""The Bento installs exactly the `serving` extra, at the versions the project is tested with."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_bento_packages_are_the_serving_extra_pinned_as_in_constraints() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    extra = {_name(r) for r in project["optional-dependencies"]["serving"]}
    extra.discard("bentoml")  # BentoML adds itself, at the version that builds the Bento
    bento = yaml.safe_load((REPO_ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    assert {_name(p) for p in bento} == extra
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[_name(name)] = version.strip()
    for package in bento:
        name, version = package.split("==")
        assert pins[_name(name)] == version, package
