"""`fakeimage predict`: verdicts for image files, folders and archives, for people and scripts.

Scored by ONNX Runtime alone (TensorFlow only in a child, for a model folder without its
graph), in batches, so a folder of thousands of images takes seconds. Each answer is one row:
the verdict column reads REAL, FAKE, UNCERTAIN (the model cannot judge: the lean column says
which way it leans) or ERROR (the file could not be read), so a script that reads it never
takes a doubt for a verdict.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from PIL import Image

from fakeimage.atomic import write_text
from fakeimage.data.images import (
    BadImageError,
    decode_image,
    to_model_input,
)
from fakeimage.data.layout import IMAGE_SUFFIXES, image_files
from fakeimage.data.sources.archives import archive_images
from fakeimage.detector.onnx_runtime import OnnxDetector
from fakeimage.errors import UserError
from fakeimage.serving.schemas import FilePrediction, ModelInfo, answers_for

COLUMNS = ("file", "verdict", "lean", "p_fake", "threshold", "reasons")
"""The table's columns; `reasons` holds the uncertain answer's codes, or an error's message."""

BATCH = 64
MAX_ARCHIVE_MB = 1024
"""Images of one archive are read into memory: over this, extract it and pass the folder."""


@dataclass(frozen=True)
class Item:
    """One image to score: its name in the output, and its file or bytes."""

    name: str
    data: Path | bytes


@dataclass(frozen=True)
class Row:
    """One line of the answer table."""

    file: str
    verdict: str
    lean: str = "-"
    prob_fake: float | None = None
    threshold: float | None = None
    reasons: str = "-"

    @classmethod
    def of(cls, answer: FilePrediction) -> Row:
        return cls(
            file=answer.file,
            verdict="UNCERTAIN" if answer.uncertain else answer.label,
            lean=answer.label,
            prob_fake=answer.prob_fake,
            threshold=answer.threshold,
            reasons=",".join(reason.code for reason in answer.reasons) or "-",
        )

    def cells(self) -> list[str]:
        def number(value: float | None) -> str:
            return "-" if value is None else f"{value:.4f}"

        cells = [self.file, self.verdict, self.lean, number(self.prob_fake)]
        return [*cells, number(self.threshold), self.reasons]


def gather(paths: Sequence[Path]) -> Iterator[Item | Row]:
    """The images behind each path (a folder's at any depth, an archive's members), in order;
    a path that does not exist becomes an ERROR row."""
    for path in paths:
        if path.is_dir():
            for file in image_files(path):
                yield Item(str(file), file)
        elif not path.exists():
            yield Row(str(path), "ERROR", reasons="no such file or folder")
        elif _is_archive(path):
            for name, data in archive_images(path, max_bytes=MAX_ARCHIVE_MB << 20):
                yield Item(f"{path}:{name}", data)
        else:
            yield Item(str(path), path)


def _is_archive(path: Path) -> bool:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return False
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def answer_rows(
    detector: OnnxDetector, items: Iterator[Item | Row]
) -> Iterator[Row | FilePrediction]:
    """Each item's answer (or ERROR row) in input order, scored BATCH images at a time."""
    info = ModelInfo(detector.name, detector.version, detector.threshold, detector.card.uncertainty)
    while chunk := list(islice(items, BATCH)):
        read: list[tuple[int, Item, Image.Image, np.ndarray]] = []
        answers: list[Row | FilePrediction | None] = []
        for item in chunk:
            if isinstance(item, Row):
                answers.append(item)
                continue
            try:
                image = decode_image(item.data)
                pixels = to_model_input(image)
            except (BadImageError, OSError) as exc:
                answers.append(Row(item.name, "ERROR", reasons=str(exc)))
                continue
            read.append((len(answers), item, image, pixels))
            answers.append(None)
        if read:
            assessed = detector.assess(np.stack([pixels for *_, pixels in read]))
            images = [image for _, _, image, _ in read]
            files = [item.name for _, item, _, _ in read]
            for (index, *_), answer in zip(
                read, answers_for(assessed, info, images, files), strict=True
            ):
                answers[index] = answer
        yield from (answer for answer in answers if answer is not None)


def predict(paths: Sequence[Path], model: str | None, *, as_json: bool, table: Path | None) -> None:
    """Print one answer per image (a TSV table, or JSON lines), optionally save it as CSV."""
    from fakeimage.detector.onnx_runtime import load_onnx_detector
    from fakeimage.serving.bento_store import local_detector_folder
    from fakeimage.serving.launch import with_onnx_in_child

    folder = local_detector_folder(model)
    with tempfile.TemporaryDirectory(prefix="fakeimage-onnx-") as scratch:
        detector = load_onnx_detector(with_onnx_in_child(folder, Path(scratch)))
    print(
        f"model: {detector.name} version {detector.version} ({folder}); "
        f"FAKE when P(fake) >= {detector.threshold:.4f}",
        file=sys.stderr,
    )
    rows: list[Row] = []
    for answer in answer_rows(detector, gather(paths)):
        row = answer if isinstance(answer, Row) else Row.of(answer)
        rows.append(row)
        if not as_json:
            if len(rows) == 1:  # the header with the first row: an error before it leaves none
                print("\t".join(COLUMNS))
            print("\t".join(row.cells()), flush=True)
        elif isinstance(answer, Row):
            print(json.dumps({"file": row.file, "verdict": "ERROR", "error": row.reasons}))
        else:
            print(json.dumps({"verdict": row.verdict, **answer.model_dump(mode="json")}))
    if not rows:
        raise UserError("no images given: pass image files, folders or zip/tar archives")
    if table is not None:
        write_text(table, _csv(rows))
    print(f"predict: {_summary(rows)}" + (f"; table in {table}" if table else ""), file=sys.stderr)
    failed = sum(row.verdict == "ERROR" for row in rows)
    if failed:
        raise UserError(f"{failed} of {len(rows)} images could not be read")


def _csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(row.cells() for row in rows)
    return buffer.getvalue()


def _summary(rows: list[Row]) -> str:
    counts = {verdict: 0 for verdict in ("FAKE", "REAL", "UNCERTAIN", "ERROR")}
    for row in rows:
        counts[row.verdict] += 1
    parts = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)
    return f"{len(rows)} image{'s' if len(rows) != 1 else ''}: {parts}"
