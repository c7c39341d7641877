"""`fakeimage` reports mistakes as one line on stderr, exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakeimage.cli import STAGES, build_parser, main
from tests.imports import FRAMEWORKS

FAKEIMAGE = Path(sys.executable).with_name("fakeimage")

pytestmark = pytest.mark.timeout(120)


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [str(FAKEIMAGE), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _assert_one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("fakeimage: error: ")
    assert needle in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("data:\n  sourc: archive\n", "unknown key 'data.sourc'"),
        ("train:\n  epochs: many\n", "train.epochs must be int"),
        ("data: [unclosed\n", "is not valid YAML"),
        ("data:\n  source:\n    kind: s3\n", "expected one of"),
    ],
    ids=["unknown-key", "wrong-type", "bad-yaml", "bad-choice"],
)
def test_bad_params_file(tmp_path: Path, content: str, needle: str) -> None:
    (tmp_path / "params.yaml").write_text(content)
    result = _run(tmp_path, "stage", "fetch")
    _assert_one_line_error(result, needle)
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]  # nothing written


def test_missing_params_file(tmp_path: Path) -> None:
    result = _run(tmp_path, "stage", "fetch")
    _assert_one_line_error(result, "params.yaml not found")


def test_params_option(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("model:\n  width: 1\n")
    result = _run(tmp_path, "stage", "fetch", "--params", "mine.yaml")
    _assert_one_line_error(result, "model.width must be >= 12")


def test_stage_error_is_one_line(tmp_path: Path) -> None:
    """A valid params file whose data source is missing fails inside the stage, cleanly."""
    (tmp_path / "params.yaml").write_text(
        f"data:\n  source:\n    kind: archive\n    path: {tmp_path / 'missing.zip'}\n"
    )
    result = _run(tmp_path, "stage", "fetch")
    _assert_one_line_error(result, "missing.zip not found")
    assert not (tmp_path / "data" / "raw").exists()


def test_preprocess_without_raw_data(tmp_path: Path) -> None:
    (tmp_path / "params.yaml").write_text("")
    result = _run(tmp_path, "stage", "preprocess")
    _assert_one_line_error(result, "data/raw is not a folder")


def test_unknown_stage_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path, "stage", "deploy")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


def test_parser_knows_every_stage() -> None:
    assert STAGES == ("fetch", "generate", "preprocess", "train", "evaluate", "promote")
    args = build_parser().parse_args(["stage", "train", "--params", "p.yaml"])
    assert (args.name, str(args.params)) == ("train", "p.yaml")


def test_main_returns_2_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("dat: {}\n")
    assert main(["stage", "fetch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fakeimage: error: params.yaml: unknown key 'dat' (known here: data,")
    assert err.count("\n") == 1 and err.endswith("\n")


def _table(out: str) -> list[dict[str, str]]:
    header, *lines = out.strip().split("\n")
    assert header.split("\t") == ["file", "verdict", "lean", "p_fake", "threshold", "reasons"]
    return [dict(zip(header.split("\t"), line.split("\t"), strict=True)) for line in lines]


def test_predict_says_uncertain_in_the_verdict_column_and_names_bad_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    from PIL import Image

    from tests.cards import save_servable_detector

    folder = save_servable_detector(tmp_path / "detector")
    image = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(image)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    monkeypatch.delenv("FAKEIMAGE_MODEL", raising=False)
    assert main(["predict", str(image), "--model", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "model: test-detector version 7" in err and "FAKE when P(fake) >= 0.5000" in err
    [row] = _table(out)
    assert row["file"] == str(image) and row["verdict"] == "UNCERTAIN"  # a flat grey square
    assert row["lean"] in ("REAL", "FAKE") and row["reasons"] == "little_detail"
    assert float(row["p_fake"]) < 0.5 if row["lean"] == "REAL" else float(row["p_fake"]) >= 0.5
    assert row["threshold"] == "0.5000"
    assert err.strip().endswith("predict: 1 image: 1 UNCERTAIN")
    assert main(["predict", str(image), "--json", "--model", str(folder)]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["file"] == str(image) and answer["label"] == row["lean"]
    assert answer["uncertain"] and answer["reasons"][0]["code"] == "little_detail"
    assert answer["verdict"] == "UNCERTAIN"
    missing = tmp_path / "missing.png"
    command = ["predict", str(tmp_path / "broken.jpg"), str(missing), "--model", str(folder)]
    assert main(command) == 2
    out, err = capsys.readouterr()
    broken, gone = _table(out)
    assert broken["verdict"] == "ERROR" and "not a readable image" in broken["reasons"]
    assert (gone["verdict"], gone["reasons"]) == ("ERROR", "no such file or folder")
    assert err.strip().endswith("fakeimage: error: 2 of 2 images could not be read")


def test_predict_takes_folders_and_archives_and_writes_a_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder is searched at any depth for images only; an archive's image members are
    scored without extracting it; every answer also lands in the CSV."""
    import csv
    import zipfile

    import numpy as np
    from PIL import Image

    from tests.cards import save_servable_detector

    folder = save_servable_detector(tmp_path / "detector")
    rng = np.random.default_rng(1)
    photos = tmp_path / "photos"
    (photos / "deeper" / "deepest").mkdir(parents=True)
    (photos / ".hidden").mkdir()
    names = ["a.png", "deeper/b.jpg", "deeper/deepest/c.webp"]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), np.uint8)).save(photos / name)
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), np.uint8)).save(photos / ".hidden/x.png")
    (photos / "notes.txt").write_text("not an image")
    archive = tmp_path / "more.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.write(photos / "a.png", "inside/a.png")
        handle.writestr("inside/readme.md", "text")
        handle.writestr("__MACOSX/inside/._a.png", "resource fork")
    table = tmp_path / "out" / "answers.csv"
    command = ["predict", str(photos), str(archive), "--csv", str(table), "--model", str(folder)]
    assert main(command) == 0
    out, err = capsys.readouterr()
    rows = _table(out)
    expected = [str(photos / name) for name in sorted(names)] + [f"{archive}:inside/a.png"]
    assert [row["file"] for row in rows] == expected
    assert {row["verdict"] for row in rows} <= {"REAL", "FAKE", "UNCERTAIN"}
    assert rows[0]["p_fake"] == rows[-1]["p_fake"]  # the same image, from disk and from a zip
    with table.open() as handle:
        saved = list(csv.DictReader(handle))
    assert saved == rows
    assert "predict: 4 images: " in err and f"table in {table}" in err


def test_every_argument_has_help() -> None:
    import argparse

    def parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
        found = [parser]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    found.extend(parsers(child))
        return found

    for parser in parsers(build_parser()):
        for action in parser._actions:
            assert action.help, f"{parser.prog}: {action.dest} has no help"


RUN_AND_LIST_IMPORTS = (
    "import sys\n"
    "from fakeimage.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"print('imported:', sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))\n"
    "sys.exit(code)\n"
)
"""`fakeimage ARGS...` in a fresh interpreter that says, after it, what it imported."""


def _in_a_process(*command: str) -> tuple[list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_IMPORTS, *command],
        cwd=Path(__file__).resolve().parents[1],  # an export reads the embedded validation data
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout.splitlines(), done.stderr


def test_predict_with_an_onnx_graph_imports_no_tensorflow(tmp_path: Path) -> None:
    """models/champion carries its ONNX graph: `fakeimage predict` runs ONNX Runtime alone."""
    import numpy as np
    from PIL import Image

    from tests.cards import save_servable_detector

    folder = save_servable_detector(tmp_path / "detector")
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (32, 32, 3), np.uint8)).save(image)
    (_, answer, imported), err = _in_a_process("predict", str(image), "--model", str(folder))
    path, verdict, lean, _, _, reasons = answer.split("\t")
    assert (path, reasons) == (str(image), "-") and verdict == lean in ("REAL", "FAKE")
    assert imported == "imported: []"
    assert "exporting" not in err


def test_predict_exports_a_folder_without_onnx_in_a_child(tmp_path: Path) -> None:
    """The shipped reference has no graph: a child process exports one (with TensorFlow), and
    the command itself still never imports TensorFlow."""
    import numpy as np
    from PIL import Image

    from tests.cards import save_servable_detector

    folder = save_servable_detector(tmp_path / "detector", onnx=False)
    image = tmp_path / "flat.png"
    Image.fromarray(np.full((32, 32, 3), 120, np.uint8)).save(image)
    (_, answer, imported), err = _in_a_process("predict", str(image), "--model", str(folder))
    assert answer.endswith("\tlittle_detail") and "\tUNCERTAIN\t" in answer
    assert imported == "imported: []"
    assert "has no ONNX graph: exporting one (TensorFlow, in a child)" in err
    assert not (folder / "model.onnx").exists()  # exported into scratch, not into the folder


def test_a_folder_without_onnx_is_exported_on_the_way(tmp_path: Path) -> None:
    """The shipped reference has no ONNX graph: serving and predict export one into scratch."""
    from fakeimage.detector.folder import ONNX_FILE, DetectorFolder, write_card
    from fakeimage.models.export import with_onnx
    from tests.cards import save_servable_detector

    folder = save_servable_detector(tmp_path / "detector")
    card = DetectorFolder(folder).card()
    assert with_onnx(folder, tmp_path / "scratch") == folder  # has one: used as it is
    (folder / ONNX_FILE).unlink()
    write_card(folder, card.replace(onnx=None))
    copy = with_onnx(folder, tmp_path / "scratch")
    assert copy != folder and (copy / ONNX_FILE).is_file()
    assert (
        DetectorFolder(copy).card().onnx is not None and DetectorFolder(folder).card().onnx is None
    )


def test_evaluate_reports_each_source_and_the_certain_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    from PIL import Image

    from tests.cards import save_servable_detector

    folder = save_servable_detector(tmp_path / "detector")
    rng = np.random.default_rng(0)
    layout = {"REAL/phone": (3, 640), "FAKE/sd14": (4, 32), "FAKE/flat": (2, 32)}
    for source, (count, side) in layout.items():
        (tmp_path / "data" / source).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            if source == "FAKE/flat":
                pixels[:] = 40 * (i + 1)
            Image.fromarray(pixels).save(tmp_path / "data" / source / f"{i}.png")
    output = tmp_path / "report.json"
    command = ["evaluate", "--model", str(folder), "--data", str(tmp_path / "data")]
    assert main([*command, "--output", str(output)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert set(shown["sources"]) == {"REAL/phone", "FAKE/sd14", "FAKE/flat", "all"}
    report = json.loads(output.read_text())
    assert report["sources"]["REAL/phone"]["uncertain"] == 1.0  # 640 px: too large
    assert report["sources"]["FAKE/flat"]["uncertain"] == 1.0  # no fine detail
    assert report["sources"]["FAKE/sd14"]["uncertain"] == 0.0
    assert report["coverage"] == 4 / 9
    assert report["reasons"] == {"little_detail": 2, "too_large": 3}


def test_evaluate_scores_through_onnx_without_tensorflow_as_keras_would(tmp_path: Path) -> None:
    """A folder with its checked graph is scored by ONNX Runtime alone, with the scores the
    Keras network gives (the shipped reference, which has no graph, goes through Keras)."""
    import numpy as np

    from tests.cards import save_servable_detector

    served = save_servable_detector(tmp_path / "served")
    bare = save_servable_detector(tmp_path / "bare", onnx=False)
    data = tmp_path / "data.npz"
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    np.savez(data, x=images, y=np.arange(40) % 2)
    onnx_output, keras_output = tmp_path / "onnx.json", tmp_path / "keras.json"
    command = ["evaluate", "--data", str(data), "--model"]
    (_, imported), _ = _in_a_process(*command, str(served), "--output", str(onnx_output))
    assert imported == "imported: []"
    assert main([*command, str(bare), "--output", str(keras_output)]) == 0
    onnx_report, keras_report = (json.loads(p.read_text()) for p in (onnx_output, keras_output))
    assert onnx_report["accuracy"] == keras_report["accuracy"]
    assert abs(onnx_report["roc_auc"] - keras_report["roc_auc"]) < 1e-6


def test_learn_takes_its_overrides_as_key_equals_value(capsys: pytest.CaptureFixture) -> None:
    args = build_parser().parse_args(["learn", "samples", "--set", " train.epochs = 5 "])
    assert args.set == ["train.epochs=5"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["learn", "samples", "--set", "train.epochs"])
    assert "is not KEY=VALUE" in capsys.readouterr().err


def test_drift_refuses_what_it_cannot_judge_in_one_line(tmp_path: Path) -> None:
    small = _run(tmp_path, "drift", "--window", "5")
    assert small.returncode == 2 and "give at least 20 answers" in small.stderr
    missing = _run(tmp_path, "drift", "--reference", str(tmp_path / "absent.npz"))
    _assert_one_line_error(missing, "absent.npz not found: run `make run`, or pass --reference")
