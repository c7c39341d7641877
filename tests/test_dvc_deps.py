"""dvc.yaml names everything each stage runs: a change anywhere in a stage's import closure
re-runs the stage, so `dvc repro` never reports stale results as up to date."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "fakeimage"

CANNOT_CHANGE_RESULTS = {
    "fakeimage/__init__.py",
    "fakeimage/errors.py",  # exception types
    "fakeimage/atomic.py",  # write-then-rename helpers
    "fakeimage/paths.py",  # where files live
    "fakeimage/startup.py",  # which start-up notices are printed
    "fakeimage/stages/__init__.py",
}
"""Modules a stage imports whose changes cannot change what it writes."""


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "fakeimage":
        return None
    base = PACKAGE.parent.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _imports(path: Path) -> set[str]:
    """Every fakeimage module a file imports, at any depth of the file (lazy imports too)."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.removesuffix(".__init__")
    else:
        package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if _module_file(name) is not None}


def import_closure(module: str) -> set[Path]:
    """The files of every fakeimage module `module` needs, with the packages on the way."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            path = _module_file(".".join(parts[:depth]))
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(_imports(path))
    return seen


def _stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def missing_deps(stage: dict) -> list[str]:
    module = "fakeimage.stages." + stage["cmd"].removeprefix("fakeimage stage ").strip()
    deps = [Path(dep) for dep in stage.get("deps", [])]
    missing = []
    for path in sorted(import_closure(module)):
        relative = path.relative_to(REPO)
        inside = relative.relative_to("src").as_posix()
        if inside in CANNOT_CHANGE_RESULTS:
            continue
        if not any(relative == dep or dep in relative.parents for dep in deps):
            missing.append(str(relative))
    return missing


@pytest.mark.parametrize("name", list(_stages()))
def test_each_stage_depends_on_every_module_it_runs(name: str) -> None:
    stage = _stages()[name]
    assert stage["cmd"].startswith("fakeimage stage ")
    assert missing_deps(stage) == [], f"add these to the deps of stage {name} in dvc.yaml"


def test_the_check_fails_when_a_dep_is_removed() -> None:
    stage = dict(_stages()["evaluate"])
    stage["deps"] = [dep for dep in stage["deps"] if dep != "src/fakeimage/evaluation"]
    assert "src/fakeimage/evaluation/fitting.py" in missing_deps(stage)


def test_the_closure_follows_lazy_and_relative_imports() -> None:
    closure = {p.relative_to(PACKAGE).as_posix() for p in import_closure("fakeimage.stages.train")}
    assert {"stages/train.py", "training/train.py", "models/zoo.py", "config/loader.py"} <= closure
    assert "serving/service.py" not in closure
