"""data/extra: a folder of samples becomes a source, once, whole, under a name reports can use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakeimage.data.extra import add_source, source_folder, source_name
from fakeimage.data.layout import image_files
from fakeimage.errors import UserError


def _images(folder: Path, count: int, nested: bool = False) -> Path:
    rng = np.random.default_rng(count)
    for index in range(count):
        target = folder / ("batch" if nested and index % 2 else "") / f"{index}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(target)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_a_folder_name_becomes_a_source_name() -> None:
    assert source_name("Midjourney v7") == "Midjourney-v7"
    assert source_name("  sd3.5_large ") == "sd3.5_large"
    with pytest.raises(UserError, match="cannot name a source"):
        source_name("???")
    assert source_folder("FAKE", "x") == Path("data/extra/FAKE/x")
    assert source_folder("FAKE", "x", scored_only=True) == Path("data/extra/test/FAKE/x")


def test_samples_are_copied_whole_flattened_and_only_once(tmp_path: Path) -> None:
    samples = _images(tmp_path / "samples", 5, nested=True)
    target = tmp_path / "extra" / "FAKE" / "new"
    assert add_source(samples, target) == 5
    assert sorted(p.name for p in target.iterdir()) == [
        "0.png",
        "2.png",
        "4.png",
        "batch_1.png",
        "batch_3.png",
    ]
    assert not list(target.parent.glob(".*partial"))  # nothing half-written is left
    assert add_source(samples, target) == 5  # the same images again: kept as they are
    with pytest.raises(UserError, match="already holds other images"):
        add_source(_images(tmp_path / "other", 2), target)


def test_a_folder_without_images_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a folder"):
        image_files(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no image files"):
        image_files(tmp_path / "empty")


def test_names_that_collide_once_flattened_and_changed_files_are_refused(tmp_path: Path) -> None:
    samples = tmp_path / "samples"
    for relative in ("a_b/c.png", "a/b_c.png"):
        (samples / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(samples / relative)
    with pytest.raises(UserError, match=r"both be named a_b_c\.png"):
        add_source(samples, tmp_path / "target")
    same_names = _images(tmp_path / "first", 3)
    target = tmp_path / "extra" / "FAKE" / "gen"
    add_source(same_names, target)
    regenerated = tmp_path / "second"
    regenerated.mkdir()
    for index in range(3):  # same file names, other pictures
        Image.new("RGB", (64, 64), (index, 0, 0)).save(regenerated / f"{index}.png")
    with pytest.raises(UserError, match="already holds other images"):
        add_source(regenerated, target)
