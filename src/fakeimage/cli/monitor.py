"""The commands that watch a deployed model: its MLflow dashboard link and the drift report."""

from __future__ import annotations

import argparse
from pathlib import Path

from fakeimage.errors import UserError

DRIFT_EXIT = 3
"""`fakeimage drift`'s exit status when the traffic has drifted (2 is a usage error)."""


def drift(args: argparse.Namespace) -> int:
    import tempfile

    from fakeimage.atomic import write_json
    from fakeimage.evaluation.folders import load_labelled_images, load_scorer
    from fakeimage.monitoring.report import draw, measure_drift
    from fakeimage.serving.bento_store import local_detector_folder

    if not args.reference.exists():
        raise UserError(f"{args.reference} not found: run `make run`, or pass --reference")
    with tempfile.TemporaryDirectory(prefix="fakeimage-drift-") as scratch:
        detector = load_scorer(str(local_detector_folder(args.model)), Path(scratch))
    images = load_labelled_images(args.reference).data.x
    drift = measure_drift(detector, images, args.log, args.window)
    write_json(args.output, drift.report.as_json())
    draw(drift, args.figure)
    print(f"drift: {drift.report.verdict()}")
    for check in drift.report.checks:
        print(
            f"drift: {check.name}: p = {check.p_value:.3g} "
            f"(validation {check.reference:.3f}, recent {check.window:.3f})"
        )
    print(f"drift: report in {args.output}, figure in {args.figure}")
    return DRIFT_EXIT if drift.report.drifted else 0


def dashboard(args: argparse.Namespace) -> None:
    from fakeimage.config import load_params
    from fakeimage.registry import store
    from fakeimage.registry.names import dashboard_url

    name = load_params(args.params).mlflow.experiment
    uri = store.configure_tracking()
    found = store.experiment_id(name)
    if found is None:
        raise UserError(f"no experiment {name!r} in {uri} yet: run `make run` first")
    print(f"dashboard: the runs of {name!r} at {dashboard_url(args.server, found)}")


def _window(text: str) -> int:
    if not text.isdigit() or int(text) < 20:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least 20 answers")
    return int(text)


def add_commands(commands: argparse._SubParsersAction) -> None:
    """`fakeimage dashboard` and `fakeimage drift`."""
    link = commands.add_parser(
        "dashboard",
        help="print the MLflow UI link that opens the experiment on its runs and headline metrics",
    )
    link.add_argument(
        "--server",
        default="http://127.0.0.1:5000",
        help="where the MLflow UI listens (`make mlflow`)",
    )
    link.add_argument(
        "--params", type=Path, default=Path("params.yaml"), help="the settings (mlflow.experiment)"
    )
    link.set_defaults(handler=dashboard)

    report = commands.add_parser(
        "drift",
        help="compare the service's latest answers with the model's validation images "
        f"(exit {DRIFT_EXIT} on drift)",
    )
    report.add_argument(
        "--log", type=Path, default=Path("logs/answers"), help="the answer log folder"
    )
    report.add_argument(
        "--window", type=_window, default=500, help="how many latest answers (at least 20)"
    )
    report.add_argument(
        "--model", help="the served model folder (default: models/champion, else reference)"
    )
    report.add_argument(
        "--reference",
        type=Path,
        default=Path("data/prepared/val.npz"),
        help="in-distribution images: a prepared split, or a folder/zip in CIFAKE layout",
    )
    report.add_argument(
        "--output", type=Path, default=Path("reports/drift.json"), help="the report (JSON)"
    )
    report.add_argument(
        "--figure",
        type=Path,
        default=Path("reports/figures/drift.png"),
        help="the report's figure (PNG)",
    )
    report.set_defaults(handler=drift)
