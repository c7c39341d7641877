"""The `fakeimage` command: pipeline stages for DVC, and tools for people and scripts."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from fakeimage.cli import monitor
from fakeimage.errors import UserError

STAGES = ("fetch", "generate", "preprocess", "train", "evaluate", "promote")
TENSORFLOW_STAGES = ("train", "evaluate", "promote")
"""The stages that run a model; the others start without TensorFlow's seconds of import."""


def _stage(args: argparse.Namespace) -> None:
    from fakeimage.config import load_params
    from fakeimage.startup import import_tensorflow

    params = load_params(args.params)
    if args.name in TENSORFLOW_STAGES:
        import_tensorflow()
    # SIGTERM (a scheduler, `kill`) unwinds like Ctrl-C: open MLflow runs end as FAILED, and
    # `train` resumes from its last completed epoch when the command runs again.
    signal.signal(signal.SIGTERM, _interrupt)
    importlib.import_module(f"fakeimage.stages.{args.name}").run(params)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _predict(args: argparse.Namespace) -> None:
    from fakeimage.cli.predict import predict

    predict(args.inputs, args.model, as_json=args.json, table=args.csv)


def _evaluate(args: argparse.Namespace) -> None:
    import tempfile

    from fakeimage.atomic import write_json
    from fakeimage.evaluation.folders import evaluate_folder, load_scorer

    with tempfile.TemporaryDirectory(prefix="fakeimage-evaluate-") as scratch:
        detector = load_scorer(args.model, Path(scratch))
    report = evaluate_folder(
        detector, Path(args.data), threshold=args.threshold, robustness=args.robustness
    )
    report = {"model": str(args.model), "data": str(args.data), **report}
    keys = ("n", "accuracy", "roc_auc", "f1", "threshold", "coverage", "certain_accuracy")
    shown = {k: report[k] for k in keys}
    if len(report["sources"]) > 2:  # more than one source and the total
        shown["sources"] = {
            name: {k: v if v is None else round(v, 4) for k, v in row.items()}
            for name, row in report["sources"].items()
        }
    if args.robustness:
        shown["worst_corruption"] = report["worst_corruption"]
        shown["worst_accuracy"] = report["worst_accuracy"]
    if args.output:
        write_json(Path(args.output), report)
    print(json.dumps(shown))


def _embedded_data(args: argparse.Namespace) -> None:
    from fakeimage.startup import import_tensorflow

    import_tensorflow()
    from fakeimage.data.hashes import save_training_record
    from fakeimage.data.sources.embedded import SplitSettings, build_embedded_archive
    from fakeimage.detector.folder import DetectorFolder

    reference = DetectorFolder(args.reference)
    data = reference.card().params.data
    settings = SplitSettings(
        val_fraction=data.val_fraction,
        test_fraction=data.test_fraction,
        seed=data.split_seed,
        fingerprint=reference.card().data.fingerprint,
    )
    counts, record = build_embedded_archive(args.train_zip, settings)
    save_training_record(reference.record_file, record)
    listing = ", ".join(f"{folder}: {n:,}" for folder, n in sorted(counts.items()))
    print(f"embedded-data: wrote the embedded archive ({listing}) and the reference's record")


def _serve(args: argparse.Namespace) -> None:
    """Store the model, then become `bentoml serve` (exec): one process tree, no TensorFlow."""
    from fakeimage.serving.launch import become, serve_command, store_for_serving

    tag = store_for_serving(args.model)
    print(f"serve: BentoML model {tag} on http://{args.host}:{args.port}", file=sys.stderr)
    become(serve_command(tag, args.host, args.port))


def _bento(args: argparse.Namespace) -> None:
    import subprocess

    from fakeimage.serving.launch import bentoml_command, store_for_serving

    tag = store_for_serving(args.model)
    command = bentoml_command("build", "--arg", f"model_tag={tag}", "--output", "tag")
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise UserError(f"bentoml build failed: {result.stderr.strip().splitlines()[-1:]}")
    bento = result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    print(f"bento: built {bento} serving BentoML model {tag}; run it with `bentoml serve {bento}`")


def _learn(args: argparse.Namespace) -> None:
    from fakeimage.config import load_params
    from fakeimage.training.learn import learn, report

    learnt = learn(
        args.samples,
        args.name or args.samples.resolve().name,
        args.parent,
        load_params(args.params).learn,
        unseen=args.unseen,
        real=args.real,
        extra=args.set,
    )
    print("\n".join(report(learnt)))


def _override(text: str) -> str:
    """KEY=VALUE, as `dvc exp run -S` takes it, with the spaces around both sides removed."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. train.epochs=10)")
    return f"{key.strip()}={value.strip()}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakeimage", description="Tell AI-generated images from real photographs."
    )
    commands = parser.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to do (COMMAND -h: its options)",
    )

    stage = commands.add_parser("stage", help="run one pipeline stage (what dvc.yaml calls)")
    stage.add_argument("name", choices=STAGES, help="the stage, in pipeline order")
    stage.add_argument(
        "--params", type=Path, default=Path("params.yaml"), help="the settings (params.yaml)"
    )
    stage.set_defaults(handler=_stage)

    predict = commands.add_parser(
        "predict",
        help="print the verdict, P(fake) and threshold per image (files, folders, archives)",
        description="One row per image: file, verdict (REAL, FAKE, UNCERTAIN when the model "
        "cannot judge, ERROR when the file cannot be read), lean (the likelier class), p_fake, "
        "threshold (FAKE when p_fake reaches it) and reasons (why uncertain, or the error).",
    )
    predict.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="an image file, a folder (searched at any depth for images) or a zip/tar of images",
    )
    predict.add_argument(
        "--model",
        help="model folder (default: env FAKEIMAGE_MODEL, else models/champion, else the "
        "shipped models/reference); scored by ONNX Runtime",
    )
    predict.add_argument(
        "--json",
        action="store_true",
        help="one JSON answer per line: the service's answer plus `verdict` (as in the table)",
    )
    predict.add_argument(
        "--csv", type=Path, metavar="FILE", help="also write the table as CSV to this file"
    )
    predict.set_defaults(handler=_predict)

    evaluate = commands.add_parser(
        "evaluate", help="score a model on labelled data (CIFAKE layout or a prepared .npz)"
    )
    evaluate.add_argument(
        "--model", required=True, help="model folder, or models:/NAME@ALIAS (from MLflow)"
    )
    evaluate.add_argument(
        "--data", required=True, help="folder or zip/tar with REAL/ and FAKE/, or a split .npz"
    )
    evaluate.add_argument("--output", help="write the full metrics as JSON here")
    evaluate.add_argument("--threshold", type=float, help="override the model's threshold")
    evaluate.add_argument(
        "--robustness",
        action="store_true",
        help="also score every corruption of the sweep (JPEG, WebP, resizing, crops, blur...)",
    )
    evaluate.set_defaults(handler=_evaluate)

    embedded = commands.add_parser(
        "embedded-data",
        help="rebuild data/embedded from the official CIFAKE train split (byte for byte)",
    )
    embedded.add_argument("--train-zip", type=Path, required=True, help="cifake-train.zip")
    embedded.add_argument(
        "--reference",
        type=Path,
        default=Path("models/reference"),
        help="the model folder whose card fixes the split and whose record it rewrites",
    )
    embedded.set_defaults(handler=_embedded_data)

    serve = commands.add_parser("serve", help="serve the champion over HTTP with BentoML")
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)"
    )
    serve.add_argument("--port", type=int, default=3000, help="port to listen on")
    serve.add_argument("--model", help="model folder to serve (default: champion, else reference)")
    serve.set_defaults(handler=_serve)

    bento = commands.add_parser("bento", help="build a Bento of the service and the champion")
    bento.add_argument(
        "--model", help="model folder to package (default: champion, else reference)"
    )
    bento.set_defaults(handler=_bento)

    monitor.add_commands(commands)

    teach = commands.add_parser(
        "learn",
        help="teach the champion a new generator from a folder of its samples (fine-tune with "
        "rehearsal through the pipeline; the champion rule decides)",
    )
    teach.add_argument("samples", type=Path, metavar="FOLDER", help="the generator's images")
    teach.add_argument("--name", help="the source's name (default: the folder's)")
    teach.add_argument(
        "--unseen", type=Path, metavar="FOLDER", help="more of its images, only ever scored"
    )
    teach.add_argument(
        "--real", type=Path, metavar="FOLDER", help="new real photographs to learn alongside"
    )
    teach.add_argument(
        "--parent", type=Path, default=Path("models/champion"), help="the model to teach"
    )
    teach.add_argument(
        "--set",
        action="append",
        type=_override,
        default=[],
        metavar="KEY=VALUE",
        help="another param for the run, as `dvc exp run -S` takes it (repeatable)",
    )
    teach.add_argument(
        "--params", type=Path, default=Path("params.yaml"), help="the settings (its learn:)"
    )
    teach.set_defaults(handler=_learn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
    except UserError as exc:
        print(f"fakeimage: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fakeimage: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`fakeimage predict DIR | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
