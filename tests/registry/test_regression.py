"""The regression set: reported images a challenger must judge no worse than the champion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from fakeimage.registry.promotion import Contender
from fakeimage.registry.regression import reported_images, score_regression


def _write(folder: Path, brightness: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.new("RGB", (32, 32), (brightness, brightness, brightness)).save(folder / f"{i}.png")
        (folder / f"{i}.json").write_text(json.dumps({"request_id": f"{i:032x}"}))


def _contender(score) -> Contender:
    return Contender(score, 0.5, np.zeros(0, np.uint64), real_data=True)


def test_consented_feedback_images_are_read_with_their_labels(tmp_path: Path) -> None:
    _write(tmp_path / "FAKE" / "sdxl", 230, 3)
    _write(tmp_path / "REAL" / "reported", 20, 2)
    (tmp_path / "reports.jsonl").write_text('{"label": "FAKE"}\n')
    (tmp_path / "FAKE" / "sdxl" / "broken.png").write_bytes(b"not an image")
    reported = reported_images(tmp_path)
    assert reported is not None and sorted(reported.y.tolist()) == [0, 0, 1, 1, 1]
    assert sorted(set(reported.source_names().tolist())) == ["FAKE/sdxl", "REAL/reported"]
    assert reported_images(tmp_path / "missing") is None
    assert reported_images(None) is None
    empty = tmp_path / "empty"
    (empty / "FAKE").mkdir(parents=True)
    assert reported_images(empty) is None


def test_a_challenger_that_judges_reported_images_worse_fails(tmp_path: Path) -> None:
    _write(tmp_path / "FAKE" / "sdxl", 230, 4)  # bright fakes
    _write(tmp_path / "REAL" / "reported", 20, 4)  # dark photographs
    reported = reported_images(tmp_path)
    by_brightness = _contender(lambda x: x.reshape(len(x), -1).mean(axis=1) / 255)
    always_real = _contender(lambda x: np.zeros(len(x)))
    kept = score_regression(by_brightness, always_real, reported)
    assert (kept.images, kept.champion, kept.challenger, kept.passes) == (8, 1.0, 0.5, False)
    assert "worse than the champion (50.00% vs 100.00% right)" in kept.reason()
    assert score_regression(always_real, by_brightness, reported).passes
