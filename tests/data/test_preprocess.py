"""Bad files are counted, duplicates removed (test copy kept), splits stratified and stable."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fakeimage.data.dataset import SPLIT_NAMES, Dataset, fingerprint, load_split, save_split
from fakeimage.data.layout import list_labelled_files
from fakeimage.data.preprocess import (
    Decoded,
    decode_files,
    deduplicate,
    make_splits,
    preprocess,
)
from fakeimage.errors import UserError

SETTINGS = {"max_bad_fraction": 0.05, "val_fraction": 0.2, "test_fraction": 0.2, "seed": 7}
WITH_TEST = {"train/REAL": 20, "train/FAKE": 20, "test/REAL": 5, "test/FAKE": 5}


def _run(raw: Path, **overrides: float) -> tuple[dict[str, Dataset], dict]:
    return preprocess(raw, **{**SETTINGS, **overrides})  # type: ignore[arg-type]


def _hashes(dataset: Dataset) -> set[str]:
    return {hashlib.sha256(row.tobytes()).hexdigest() for row in dataset.x}


def _rows(dataset: Dataset) -> set[tuple[str, int]]:
    """(pixel hash, label) of every image: a split's membership, independent of order."""
    return {
        (hashlib.sha256(row.tobytes()).hexdigest(), int(label))
        for row, label in zip(dataset.x, dataset.y, strict=True)
    }


def _file_hash(path: Path) -> str:
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)
    return hashlib.sha256(pixels.tobytes()).hexdigest()


def _garbage(folder: Path, count: int) -> list[str]:
    names = []
    for index in range(count):
        name = f"broken{index}.jpg"
        (folder / name).write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" if index % 2 else b"")
        names.append(name)
    return names


# --- bad files -----------------------------------------------------------------------------


def test_a_few_bad_files_are_skipped_and_counted(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST)
    names = _garbage(tmp_path / "train" / "REAL", 2)  # 2 of 52 files: under 5%
    datasets, report = _run(tmp_path)
    assert report["files"] == 52
    assert report["images"] == 50
    assert report["bad_files"]["count"] == 2
    examples = report["bad_files"]["examples"]
    assert [e.split(":")[0] for e in examples] == names
    assert "the file is empty" in examples[0]
    assert sum(len(d.y) for d in datasets.values()) == 50


def test_examples_are_capped(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, {"train/REAL": 100, "train/FAKE": 100})
    _garbage(tmp_path / "train" / "FAKE", 8)
    _, report = _run(tmp_path)
    assert report["bad_files"]["count"] == 8
    assert len(report["bad_files"]["examples"]) == 5


def test_too_many_bad_files_is_an_error_naming_them(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST)
    _garbage(tmp_path / "test" / "FAKE", 3)  # 3 of 53: 5.7%
    with pytest.raises(UserError) as caught:
        _run(tmp_path)
    message = str(caught.value)
    assert "3 of 53 files are unreadable" in message
    assert "data.max_bad_fraction" in message
    assert "broken0.jpg" in message and "broken1.jpg" in message
    assert "\n" not in message


def test_bad_fraction_limit_is_inclusive(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, {"train/REAL": 10, "train/FAKE": 9})
    _garbage(tmp_path / "train" / "FAKE", 1)  # exactly 1 of 20 = 5%
    _, report = _run(tmp_path, max_bad_fraction=0.05)
    assert report["bad_files"]["count"] == 1
    with pytest.raises(UserError):
        _run(tmp_path, max_bad_fraction=0.0)


# --- duplicates ----------------------------------------------------------------------------


def test_byte_identical_duplicates_within_train(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path, WITH_TEST)
    for index in range(3):
        shutil.copy(written["train/FAKE"][index], tmp_path / "train" / "FAKE" / f"copy{index}.png")
    datasets, report = _run(tmp_path)
    assert report["images"] == 53
    assert report["duplicates_removed"] == {
        "within_split": 3,
        "across_splits": 0,
        "label_conflicts": 0,
        "total": 3,
    }
    assert sum(len(d.y) for d in datasets.values()) == 50
    everything = [row for d in datasets.values() for row in _hashes(d)]
    assert len(everything) == len(set(everything)) == 50


def test_pixel_identical_duplicates_in_other_formats(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path, WITH_TEST)
    original = Image.open(written["train/REAL"][0]).convert("RGB")
    original.save(tmp_path / "train" / "REAL" / "same.bmp")
    original.save(tmp_path / "train" / "REAL" / "same.tiff")
    datasets, report = _run(tmp_path)
    assert report["duplicates_removed"]["within_split"] == 2
    assert sum(len(d.y) for d in datasets.values()) == 50


def test_duplicates_within_test(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path, WITH_TEST)
    shutil.copy(written["test/REAL"][0], tmp_path / "test" / "REAL" / "again.png")
    datasets, report = _run(tmp_path)
    assert report["duplicates_removed"]["within_split"] == 1
    assert len(datasets["test"].y) == 10


def test_test_copies_win_over_train(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path, WITH_TEST)
    leaked = written["test/REAL"][:2] + written["test/FAKE"][:1]
    for path in leaked:
        label = path.parent.name
        shutil.copy(path, tmp_path / "train" / label / f"leak-{path.name}")
        shutil.copy(path, tmp_path / "train" / label / f"leak2-{path.name}")
    datasets, report = _run(tmp_path)
    assert report["duplicates_removed"]["across_splits"] == 6
    assert report["duplicates_removed"]["within_split"] == 0
    test_hashes = _hashes(datasets["test"])
    assert {_file_hash(p) for p in leaked} <= test_hashes  # kept in test
    assert len(datasets["test"].y) == 10
    assert not test_hashes & _hashes(datasets["train"])
    assert not test_hashes & _hashes(datasets["val"])
    assert not _hashes(datasets["train"]) & _hashes(datasets["val"])


def test_label_conflicts_are_dropped_everywhere(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path, WITH_TEST)
    within = written["train/REAL"][0]
    shutil.copy(within, tmp_path / "train" / "FAKE" / "conflict.png")
    across = written["test/FAKE"][0]
    shutil.copy(across, tmp_path / "train" / "REAL" / "conflict.png")
    datasets, report = _run(tmp_path)
    assert report["duplicates_removed"]["label_conflicts"] == 4
    assert report["duplicates_removed"]["total"] == 0
    kept = set().union(*(_hashes(d) for d in datasets.values()))
    assert _file_hash(within) not in kept
    assert _file_hash(across) not in kept
    assert sum(len(d.y) for d in datasets.values()) == 48


def test_deduplicate_directly() -> None:
    decoded = _decoded_from_arrays(
        {
            "train": [(1, 0), (1, 0), (2, 0), (3, 1), (4, 1), (5, 1)],
            "test": [(2, 0), (6, 0), (5, 0)],  # 2: leak; 5: conflict with train
        }
    )
    result, counts = deduplicate(decoded)
    assert counts == {"within_split": 1, "across_splits": 1, "label_conflicts": 2, "total": 2}
    assert len(result["test"].labels) == 2
    assert len(result["train"].labels) == 3


def _decoded_from_arrays(spec: dict[str, list[tuple[int, int]]]) -> dict[str, Decoded]:
    """Decoded splits from (value, label) pairs: each value is a constant-colour image."""
    decoded = {}
    for split, items in spec.items():
        part = Decoded()
        for value, label in items:
            pixels = np.full((32, 32, 3), value, np.uint8)
            part.add(pixels, label, hashlib.sha256(pixels.tobytes()).hexdigest(), "")
        decoded[split] = part
    return decoded


# --- splits --------------------------------------------------------------------------------


def test_same_seed_gives_identical_arrays(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST)
    first, report1 = _run(tmp_path)
    second, report2 = _run(tmp_path)
    for name in SPLIT_NAMES:
        assert np.array_equal(first[name].x, second[name].x)
        assert np.array_equal(first[name].y, second[name].y)
    assert report1 == report2


def test_different_seed_gives_a_different_split(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST)
    first, report1 = _run(tmp_path, seed=1)
    second, report2 = _run(tmp_path, seed=2)
    assert _rows(first["val"]) != _rows(second["val"])
    assert _rows(first["test"]) == _rows(second["test"])  # the source's own test split
    assert report1["fingerprint"] != report2["fingerprint"]
    assert report1["splits"] == report2["splits"]


def test_the_carved_test_split_depends_on_the_seed(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, {"train/REAL": 30, "train/FAKE": 30})
    first, _ = _run(tmp_path, seed=1)
    second, _ = _run(tmp_path, seed=2)
    assert _rows(first["test"]) != _rows(second["test"])


def _rename_all(root: Path) -> None:
    """Give every file a new name whose sort order is unrelated to the old one."""
    for path in sorted(root.rglob("*.png")):
        digest = hashlib.md5(path.name.encode()).hexdigest()[:8]
        path.rename(path.with_name(f"{digest}-{path.stem}.png"))


@pytest.mark.parametrize("counts", [WITH_TEST, {"train/REAL": 30, "train/FAKE": 25}])
def test_renaming_files_does_not_move_images(tmp_path: Path, write_cifake, counts) -> None:
    write_cifake(tmp_path, counts)
    before, _ = _run(tmp_path)
    _rename_all(tmp_path)
    after, _ = _run(tmp_path)
    for name in SPLIT_NAMES:
        assert _rows(before[name]) == _rows(after[name])
    for name in ("train", "val"):  # carved splits: even the order is the same
        assert np.array_equal(before[name].x, after[name].x)


def test_renaming_files_keeps_the_fingerprint(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST)
    _, before = _run(tmp_path)
    _rename_all(tmp_path)
    _, after = _run(tmp_path)
    assert after["fingerprint"] == before["fingerprint"]


def test_listing_order_does_not_move_images(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST)
    files = list_labelled_files(tmp_path)
    results = []
    for order in range(3):
        shuffled = list(files)
        random.Random(order).shuffle(shuffled)
        decoded, _ = decode_files(shuffled, workers=1)
        deduplicated, _ = deduplicate(decoded)
        results.append(make_splits(deduplicated, val_fraction=0.2, test_fraction=0.2, seed=3))
    for name in SPLIT_NAMES:
        assert _rows(results[0][name]) == _rows(results[1][name]) == _rows(results[2][name])
    for name in ("train", "val"):
        assert np.array_equal(results[0][name].x, results[1][name].x)


def test_splits_are_stratified(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, {"train/REAL": 120, "train/FAKE": 40})  # 75% REAL
    datasets, report = _run(tmp_path, val_fraction=0.1, test_fraction=0.2)
    assert report["source_splits"] == ["train"]
    splits = report["splits"]
    assert splits["test"] == {"total": 32, "REAL": 24, "FAKE": 8}  # 20% of each class
    assert splits["val"] == {"total": 13, "REAL": 10, "FAKE": 3}  # 10% of the rest
    for name in SPLIT_NAMES:
        share = datasets[name].y.tolist().count(0) / len(datasets[name].y)
        assert abs(share - 0.75) < 0.05
    assert sum(s["total"] for s in splits.values()) == 160


def test_the_source_test_split_is_kept_whole(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST)
    _, report = _run(tmp_path)
    assert report["source_splits"] == ["test", "train"]
    assert report["splits"]["test"] == {"total": 10, "REAL": 5, "FAKE": 5}
    assert report["splits"]["val"] == {"total": 8, "REAL": 4, "FAKE": 4}
    assert report["splits"]["train"] == {"total": 32, "REAL": 16, "FAKE": 16}


def test_a_split_without_a_class_is_an_error(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, {"train/REAL": 10, "train/FAKE": 2})
    with pytest.raises(UserError, match="would lack a class"):
        _run(tmp_path, val_fraction=0.1, test_fraction=0.1)


def test_a_source_with_only_test_images_is_an_error(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, {"test/REAL": 3, "test/FAKE": 3})
    with pytest.raises(UserError, match="no train images"):
        _run(tmp_path)


# --- report, arrays, files -----------------------------------------------------------------


def test_report_contents(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path, WITH_TEST)
    shutil.copy(written["train/REAL"][0], tmp_path / "train" / "REAL" / "dup.png")
    _garbage(tmp_path / "train" / "FAKE", 1)
    datasets, report = _run(tmp_path)
    assert set(report) == {
        "files",
        "images",
        "classes",
        "bad_files",
        "duplicates_removed",
        "splits",
        "source_splits",
        "sources",
        "mix",
        "fingerprint",
    }
    assert report["mix"] == {"weights": {}, "held_out": [], "balanced": False}
    assert report["files"] == 52
    assert report["images"] == 51
    assert report["classes"] == {"REAL": 26, "FAKE": 25}
    assert report["bad_files"]["count"] == 1
    assert report["duplicates_removed"]["total"] == 1
    assert set(report["splits"]) == set(SPLIT_NAMES)
    assert report["fingerprint"] == fingerprint(datasets)
    assert len(report["fingerprint"]) == 64
    assert json.loads(json.dumps(report)) == report  # plain JSON types only


def test_arrays_are_model_inputs(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path, WITH_TEST, fmt="JPEG")
    datasets, _ = _run(tmp_path)
    for dataset in datasets.values():
        assert dataset.x.dtype == np.uint8 and dataset.x.shape[1:] == (32, 32, 3)
        assert dataset.y.dtype == np.uint8 and dataset.y.shape == (len(dataset.x),)
        assert set(dataset.y.tolist()) == {0, 1}


def test_labels_follow_the_folders(tmp_path: Path) -> None:
    for label, value in (("REAL", 10), ("FAKE", 200)):
        folder = tmp_path / "train" / label
        folder.mkdir(parents=True)
        for index in range(10):
            pixels = np.full((32, 32, 3), value + index, np.uint8)
            Image.fromarray(pixels).save(folder / f"{index}.png")
    datasets, _ = _run(tmp_path)
    for dataset in datasets.values():
        means = dataset.x.reshape(len(dataset.x), -1).mean(axis=1)
        assert np.all((means >= 200) == (dataset.y == 1))


def test_save_and_load_roundtrip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    dataset = Dataset(
        rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8),
        np.array([0, 1, 1, 0, 1, 0, 0], np.uint8),
    )
    path = tmp_path / "prepared" / "train.npz"
    save_split(dataset, path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["train.npz"]
    loaded = load_split(path)
    assert loaded.x.dtype == np.uint8 and loaded.y.dtype == np.uint8
    assert np.array_equal(loaded.x, dataset.x) and np.array_equal(loaded.y, dataset.y)
    with np.load(path) as raw:
        assert sorted(raw.files) == ["sources", "x", "y"]
    assert list(loaded.sources) == [""] * 7


def test_sources_survive_preprocessing_in_every_split(tmp_path: Path, write_cifake) -> None:
    """Sub-folders of REAL/ and FAKE/ are sources; extra folders may add one class only."""
    write_cifake(tmp_path / "raw", {"train/REAL": 40, "train/FAKE": 20, "train/FAKE/sd14": 20})
    zoo = tmp_path / "zoo"
    write_cifake(zoo, {"train/FAKE/dcgan": 30, "test/FAKE/dcgan": 10}, seed=1)

    def with_extra(folder: Path) -> tuple[dict, dict]:
        settings = {"max_bad_fraction": 0.0, "val_fraction": 0.2, "test_fraction": 0.2}
        return preprocess(tmp_path / "raw", **settings, seed=3, extra_dirs=(folder,))

    datasets, report = with_extra(zoo)
    names = {split: set(data.source_names()) for split, data in datasets.items()}
    assert names["train"] == names["val"] == {"REAL", "FAKE", "FAKE/sd14", "FAKE/dcgan"}
    # the zoo's own test images stay in test, where the base data's carved ones join them
    assert report["sources"]["FAKE/dcgan"] == {"train": 24, "val": 6, "test": 10}
    assert report["sources"]["FAKE/sd14"] == {"train": 13, "val": 3, "test": 4}
    assert sum(report["sources"]["REAL"].values()) == 40
    # an empty extra folder adds nothing
    (tmp_path / "empty").mkdir()
    again, _ = with_extra(tmp_path / "empty")
    assert "FAKE/dcgan" not in set(again["train"].source_names())

    # weighed 0, the zoo's generator is held out: scored on its test images, never trained or
    # validated on; the classes of the training split come out balanced
    settings = {"max_bad_fraction": 0.0, "val_fraction": 0.2, "test_fraction": 0.2, "seed": 3}
    mixed, report = preprocess(
        tmp_path / "raw", **settings, extra_dirs=(zoo,), weights={"FAKE/dcgan": 0}, balance=True
    )
    assert report["sources"]["FAKE/dcgan"] == {"test": 10}
    assert report["mix"]["held_out"] == ["FAKE/dcgan"]
    train = mixed["train"]
    assert (train.y == 0).sum() == (train.y == 1).sum()
    with pytest.raises(UserError, match="FAKE/dcgn, which the data does not hold"):
        preprocess(tmp_path / "raw", **settings, extra_dirs=(zoo,), weights={"FAKE/dcgn": 0})


def test_save_overwrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "val.npz"
    path.write_bytes(b"old")
    dataset = Dataset(np.zeros((1, 32, 32, 3), np.uint8), np.zeros(1, np.uint8))
    save_split(dataset, path)
    assert load_split(path).x.shape == (1, 32, 32, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["val.npz"]
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode


def test_load_missing_split(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="run the preprocess stage first"):
        load_split(tmp_path / "train.npz")


def test_fingerprint_follows_the_data() -> None:
    rng = np.random.default_rng(0)

    def make() -> dict[str, Dataset]:
        return {
            name: Dataset(
                rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
                np.array([0, 1, 0, 1], np.uint8),
            )
            for name in SPLIT_NAMES
        }

    base = make()
    copy = {name: Dataset(d.x.copy(), d.y.copy()) for name, d in base.items()}
    assert fingerprint(base) == fingerprint(copy)
    pixel = {name: Dataset(d.x.copy(), d.y.copy()) for name, d in base.items()}
    pixel["val"].x[0, 0, 0, 0] ^= 1
    assert fingerprint(pixel) != fingerprint(base)
    label = {name: Dataset(d.x.copy(), d.y.copy()) for name, d in base.items()}
    label["test"].y[0] = 1
    assert fingerprint(label) != fingerprint(base)
    swapped = dict(base, train=base["val"], val=base["train"])
    assert fingerprint(swapped) != fingerprint(base)


def test_fingerprint_changes_when_the_files_change(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path, WITH_TEST)
    _, before = _run(tmp_path)
    image = Image.open(written["train/REAL"][3]).convert("RGB")
    pixels = np.asarray(image).copy()
    pixels[0, 0, 0] ^= 1
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    written["train/REAL"][3].write_bytes(buffer.getvalue())
    _, after = _run(tmp_path)
    assert after["fingerprint"] != before["fingerprint"]


@pytest.mark.timeout(120)
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="the parallel path needs 2 CPUs")
def test_parallel_decoding_matches_serial(tmp_path: Path, write_cifake) -> None:
    """Over 2000 files decode in worker processes; the result must not depend on it."""
    written = write_cifake(tmp_path, {"train/REAL": 3, "train/FAKE": 3})
    data = written["train/REAL"][0].read_bytes()
    for index in range(1996):
        (tmp_path / "train" / "REAL" / f"same{index:04d}.png").write_bytes(data)
    _garbage(tmp_path / "train" / "FAKE", 1)
    files = list_labelled_files(tmp_path)
    assert len(files) > 2000
    parallel, bad_parallel = decode_files(files, workers=2)
    serial, bad_serial = decode_files(files, workers=1)
    assert bad_parallel == bad_serial and bad_serial["count"] == 1
    for name in serial:
        assert parallel[name].hashes == serial[name].hashes
        assert parallel[name].labels == serial[name].labels
