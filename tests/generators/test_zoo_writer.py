"""Samples are written as a CIFAKE FAKE source, whole or not at all."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from fakeimage.config import ZooParams
from fakeimage.data.layout import list_labelled_files
from fakeimage.generators.build import build_zoo
from fakeimage.generators.writer import jpeg_round_trip, staged_folder, write_source

IMAGES = np.random.default_rng(1).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)


@pytest.mark.timeout(30)
def test_the_zoo_reads_as_fake_sources(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    (zoo / "old.txt").write_text("replaced")
    with staged_folder(zoo) as staging:
        assert write_source(staging, "dcgan", "train", IMAGES) == 5
        assert write_source(staging, "dcgan", "test", IMAGES[:2]) == 2
        write_source(staging, "vae", "train", IMAGES[:1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo"]  # no staging left
    files = list_labelled_files(zoo, both_classes=False)
    assert [(f.split, f.label, f.source, f.path.name) for f in files][:3] == [
        ("test", 1, "dcgan", "00000.jpg"),
        ("test", 1, "dcgan", "00001.jpg"),
        ("train", 1, "dcgan", "00000.jpg"),
    ]
    assert len(files) == 8 and not (zoo / "old.txt").exists()
    reference = io.BytesIO()
    Image.new("RGB", (32, 32)).save(reference, "JPEG", quality=75)
    for file in files:
        with Image.open(file.path) as image:
            assert (image.format, image.size, image.mode) == ("JPEG", (32, 32), "RGB")
            assert JpegImagePlugin.get_sampling(image) == 2  # 4:2:0, as CIFAKE
            assert image.quantization == Image.open(reference).quantization  # quality 75


@pytest.mark.timeout(30)
def test_a_failure_leaves_the_previous_zoo(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    with staged_folder(zoo) as staging:
        write_source(staging, "vae", "train", IMAGES)
    with pytest.raises(RuntimeError), staged_folder(zoo) as staging:
        write_source(staging, "dcgan", "train", IMAGES)
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zoo"]
    assert [p.name for p in (zoo / "train" / "FAKE").iterdir()] == ["vae"]


@pytest.mark.timeout(30)
def test_an_empty_zoo_holds_only_a_readme_that_says_so(tmp_path: Path) -> None:
    zoo = build_zoo(ZooParams(), tmp_path / "raw", tmp_path / "zoo", tmp_path / "checkpoints")

    assert zoo.summary() and [p.name for p in (tmp_path / "zoo").iterdir()] == ["README.md"]
    assert "Generators listed: none" in (tmp_path / "zoo" / "README.md").read_text()
    assert list_labelled_files(tmp_path / "zoo", both_classes=False) == []


@pytest.mark.timeout(30)
def test_the_round_trip_is_what_the_files_hold(tmp_path: Path) -> None:
    write_source(tmp_path, "g", "train", IMAGES)
    on_disk = [np.asarray(Image.open(p)) for p in sorted(tmp_path.rglob("*.jpg"))]
    np.testing.assert_array_equal(jpeg_round_trip(IMAGES), np.stack(on_disk))
