"""The synthetic source writes real CIFAKE-format data: layout, encoding, determinism, no leaks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from fakeimage.config import SyntheticSource
from fakeimage.data.sources.synthetic import generate_synthetic
from fakeimage.errors import UserError

SMALL = SyntheticSource(train_per_class=20, test_per_class=5, generator_epochs=2, seed=0)
FOLDERS = ("train/REAL", "train/FAKE", "test/REAL", "test/FAKE")


def _generate(root: Path, params: SyntheticSource) -> tuple[Path, dict[str, int]]:
    root.mkdir(parents=True)
    return root, generate_synthetic(root, params)


def _file_bytes(root: Path, folder: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted((root / folder).iterdir())]


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)), dtype=np.int16)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    return _generate(tmp_path_factory.mktemp("synthetic") / "data", SMALL)


def test_layout_and_counts(dataset: tuple[Path, dict[str, int]]) -> None:
    root, counts = dataset
    assert counts == {"train/REAL": 20, "train/FAKE": 20, "test/REAL": 5, "test/FAKE": 5}
    assert sorted(str(p.relative_to(root)) for p in root.glob("*/*")) == sorted(FOLDERS)
    for folder, count in counts.items():
        files = sorted((root / folder).iterdir())
        assert len(files) == count
        assert all(f.suffix == ".jpg" and f.is_file() for f in files)


def test_every_file_is_a_cifake_jpeg(dataset: tuple[Path, dict[str, int]]) -> None:
    root, _ = dataset
    reference = io.BytesIO()
    Image.new("RGB", (32, 32), (120, 60, 30)).save(reference, "JPEG", quality=75)
    quality_75_tables = Image.open(reference).quantization
    for path in sorted(root.glob("*/*/*.jpg")):
        with Image.open(path) as image:
            assert image.format == "JPEG", path
            assert (image.size, image.mode) == ((32, 32), "RGB"), path
            assert not image.info.get("progressive"), path
            assert b"\xff\xc0" in path.read_bytes(), f"{path} is not baseline (no SOF0 marker)"
            assert JpegImagePlugin.get_sampling(image) == 2, f"{path} is not 4:2:0"
            assert image.quantization == quality_75_tables, f"{path} is not quality 75"
            image.load()


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(
    dataset: tuple[Path, dict[str, int]], tmp_path: Path
) -> None:
    root, _ = dataset
    again, _ = _generate(tmp_path / "again", SMALL)
    other, _ = _generate(
        tmp_path / "other",
        SyntheticSource(train_per_class=20, test_per_class=5, generator_epochs=2, seed=1),
    )
    for folder in FOLDERS:
        assert _file_bytes(again, folder) == _file_bytes(root, folder), folder
        assert _file_bytes(other, folder) != _file_bytes(root, folder), folder


def test_train_and_test_real_crops_do_not_overlap(dataset: tuple[Path, dict[str, int]]) -> None:
    root, _ = dataset
    assert not set(_file_bytes(root, "train/REAL")) & set(_file_bytes(root, "test/REAL"))


def test_fakes_are_distinct_samples_unlike_any_real_image(
    dataset: tuple[Path, dict[str, int]],
) -> None:
    root, _ = dataset
    reals = [
        _pixels(b) for folder in ("train/REAL", "test/REAL") for b in _file_bytes(root, folder)
    ]
    fakes = [
        _pixels(b) for folder in ("train/FAKE", "test/FAKE") for b in _file_bytes(root, folder)
    ]
    assert len({f.tobytes() for f in fakes}) == len(fakes), "every fake is a different sample"
    for fake in fakes:
        assert fake.std() > 0, "a fake is a flat image"
        closest = min(np.abs(fake - real).mean() for real in reals)
        assert closest > 1.0, "a fake is (nearly) a copy of a real image"


def test_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty"):
        generate_synthetic(tmp_path, SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
