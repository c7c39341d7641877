"""The `fakeimage` command: pipeline stages for DVC, and tools for people and scripts."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from fakeimage.errors import UserError

STAGES = ("fetch", "preprocess", "train", "evaluate", "promote")


def _stage(args: argparse.Namespace) -> None:
    from fakeimage.config import load_params

    params = load_params(args.params)
    importlib.import_module(f"fakeimage.stages.{args.name}").run(params)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakeimage", description="Tell AI-generated images from real photographs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stage = commands.add_parser("stage", help="run one pipeline stage (what dvc.yaml calls)")
    stage.add_argument("name", choices=STAGES)
    stage.add_argument("--params", type=Path, default=Path("params.yaml"))
    stage.set_defaults(handler=_stage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except UserError as exc:
        print(f"fakeimage: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fakeimage: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
