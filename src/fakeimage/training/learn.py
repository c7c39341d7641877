"""`fakeimage learn`: the pipeline run that teaches the champion a new generator.

Nothing here trains: the command places the samples in data/extra (a source like any other)
and runs the pipeline as an experiment, `dvc exp run` with the overrides below, so the new
model is trained, evaluated and challenged exactly as every other one, and its card holds the
command that reproduces it. The overrides fine-tune the champion (`train.init_from`) with
rehearsal (`train.replay`), on its own network, optimiser and augmentation, for the epochs and
learning rate of the `learn` section of params.yaml.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakeimage.atomic import write_json
from fakeimage.config import LearnParams, TrainParams
from fakeimage.data.extra import add_source, source_folder, source_name
from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import DetectorFolder, is_detector_folder
from fakeimage.errors import UserError
from fakeimage.evaluation.change import SourceChange, render, source_changes
from fakeimage.evaluation.folders import evaluate_folder, load_scorer
from fakeimage.paths import EVALUATED_DIR, REPORTS_DIR, split_path

_PARENT_TRAIN_KEYS = ("optimizer", "weight_decay", "label_smoothing", "patience", "mixed_precision")
"""What a fine-tune keeps of its parent's training recipe (with its augmentation)."""


_BARE = re.compile(r"[A-Za-z0-9_./:@-]+")


def _value(value: Any) -> str:
    """A value as the override grammar DVC (Hydra) reads: plain words bare, the rest as JSON."""
    if isinstance(value, list):
        return "[" + ",".join(_value(item) for item in value) + "]"
    if isinstance(value, str) and _BARE.fullmatch(value):
        return value
    return json.dumps(value)


def _leaves(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Nested settings as dotted keys, so each override sets one value."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat |= _leaves(f"{prefix}.{key}", value)
        else:
            flat[f"{prefix}.{key}"] = value
    return flat


@dataclass(frozen=True)
class LearnRun:
    """The experiment that learns a source: its name and the params it sets."""

    name: str
    settings: dict[str, Any]

    def command(self, extra: Sequence[str] = ()) -> list[str]:
        """`dvc exp run` with every setting; `extra` are the user's own `-S KEY=VALUE`, which
        replace a setting of the same key."""
        own = {item.partition("=")[0].strip() for item in extra}
        overrides = [
            f"{key}={_value(value)}" for key, value in self.settings.items() if key not in own
        ]
        overrides += list(extra)
        return ["dvc", "exp", "run", "-n", self.name, *(a for o in overrides for a in ("-S", o))]


def learn_run(source: str, parent: Path, card: ModelCard, recipe: LearnParams) -> LearnRun:
    """The experiment that fine-tunes the detector in `parent` (its card: `card`) on `source`."""
    own: TrainParams = card.params.train
    settings: dict[str, Any] = _leaves("model", card.params.model.model_dump())
    settings["train.init_from"] = str(parent)
    settings |= {f"train.{key}": getattr(own, key) for key in _PARENT_TRAIN_KEYS}
    settings |= _leaves("train.augment", own.augment.model_dump(mode="json"))
    settings |= {f"train.{key}": value for key, value in recipe.model_dump().items()}
    stamp = time.strftime("%Y%m%d-%H%M%S")  # each run its own experiment, reruns included
    return LearnRun(name=f"learn-{source.rpartition('/')[2]}-{stamp}", settings=settings)


@dataclass(frozen=True)
class Learnt:
    """What `fakeimage learn` did and found: reports/learn.json."""

    source: str
    samples: int
    command: str
    seconds: float
    changes: list[SourceChange]
    promotion: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "samples": self.samples,
            "command": self.command,
            "seconds": round(self.seconds, 1),
            "sources": [change.row() for change in self.changes],
            "promoted": self.promotion.get("promoted"),
            "reason": self.promotion.get("reason"),
        }


def learn(
    samples: Path,
    name: str,
    parent: Path,
    recipe: LearnParams,
    *,
    unseen: Path | None = None,
    real: Path | None = None,
    extra: Sequence[str] = (),
) -> Learnt:
    """Place the samples as source FAKE/<name>, run the experiment, compare before and after.

    Both models are scored on the test split; the parent is copied first, since promote may
    replace the folder it lives in.
    """
    if not is_detector_folder(parent):
        raise UserError(
            f"no model at {parent} to teach: run `make run` (or `dvc repro`) first, whose "
            "promote stage writes models/champion, or give --parent a model folder"
        )
    name = source_name(name)
    count = add_source(samples, source_folder("FAKE", name))
    if unseen is not None:
        add_source(unseen, source_folder("FAKE", name, scored_only=True))
    if real is not None:
        add_source(real, source_folder("REAL", name))
    run = learn_run(f"FAKE/{name}", parent, DetectorFolder(parent).card(), recipe)
    command = run.command(extra)
    shown = shlex.join(command)
    print(
        f"learn: {count} samples of FAKE/{name} in {source_folder('FAKE', name)}; running\n{shown}"
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fakeimage-learn-") as scratch:
        before = shutil.copytree(parent, Path(scratch) / "parent")
        dvc = Path(sys.executable).with_name("dvc")
        executable = [str(dvc) if dvc.is_file() else "dvc", *command[1:]]
        if subprocess.run(executable, check=False).returncode != 0:
            raise UserError(
                "learn: the pipeline stopped (see above); fix what it says and run the same "
                "command again (finished stages are not repeated, training resumes)"
            )
        seconds = time.monotonic() - started
        changes = source_changes(_on_test(before), _on_test(EVALUATED_DIR))
    promotion = json.loads((REPORTS_DIR / "promotion.json").read_text())
    return Learnt(f"FAKE/{name}", count, shown, seconds, changes, promotion)


def _on_test(folder: Path) -> dict[str, dict[str, Any]]:
    """A detector folder's per-source report on the test split."""
    with tempfile.TemporaryDirectory(prefix="fakeimage-learn-") as scratch:
        detector = load_scorer(str(folder), Path(scratch))
    return evaluate_folder(detector, split_path("test"))["sources"]


def report(learnt: Learnt) -> list[str]:
    """Write reports/learn.json; the lines the command prints."""
    write_json(REPORTS_DIR / "learn.json", learnt.as_json())
    outcome = "promoted" if learnt.promotion.get("promoted") else "kept the champion"
    return [
        f"learn: {learnt.source} in {learnt.seconds / 60:.1f} min; test split, before -> after:",
        *render(learnt.changes, learnt.source),
        f"learn: promote {outcome}: {learnt.promotion.get('reason')}",
    ]
