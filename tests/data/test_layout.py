"""The CIFAKE layout is found at any depth; a `test` parent decides the split."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fakeimage.data.layout import (
    CLASS_NAMES,
    LabelledFile,
    find_class_folders,
    list_labelled_files,
)
from fakeimage.errors import UserError


def _touch(root: Path, *relative: str) -> None:
    for name in relative:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not decoded here")


def _relative(root: Path, folders: dict[tuple[str, int], list[Path]]) -> dict:
    return {key: [p.relative_to(root).as_posix() for p in paths] for key, paths in folders.items()}


def test_class_names_order() -> None:
    assert CLASS_NAMES == ("REAL", "FAKE")  # label 1 = FAKE, the positive class


def test_standard_layout(tmp_path: Path) -> None:
    for folder in ("train/REAL", "train/FAKE", "test/REAL", "test/FAKE"):
        (tmp_path / folder).mkdir(parents=True)
    assert _relative(tmp_path, find_class_folders(tmp_path)) == {
        ("train", 0): ["train/REAL"],
        ("train", 1): ["train/FAKE"],
        ("test", 0): ["test/REAL"],
        ("test", 1): ["test/FAKE"],
    }


def test_class_folders_at_any_depth(tmp_path: Path) -> None:
    for folder in ("a/b/cifake/train/REAL", "a/b/cifake/train/FAKE", "a/b/cifake/test/FAKE"):
        (tmp_path / folder).mkdir(parents=True)
    assert _relative(tmp_path, find_class_folders(tmp_path)) == {
        ("train", 0): ["a/b/cifake/train/REAL"],
        ("train", 1): ["a/b/cifake/train/FAKE"],
        ("test", 1): ["a/b/cifake/test/FAKE"],
    }


def test_class_folders_directly_under_root_are_train(tmp_path: Path) -> None:
    (tmp_path / "REAL").mkdir()
    (tmp_path / "FAKE").mkdir()
    assert set(find_class_folders(tmp_path)) == {("train", 0), ("train", 1)}


def test_only_a_test_parent_makes_the_test_split(tmp_path: Path) -> None:
    for folder in ("validation/REAL", "testing/FAKE", "test/extra/REAL", "TeSt/FAKE"):
        (tmp_path / folder).mkdir(parents=True)
    found = _relative(tmp_path, find_class_folders(tmp_path))
    assert found == {
        ("train", 0): ["test/extra/REAL", "validation/REAL"],
        ("train", 1): ["testing/FAKE"],
        ("test", 1): ["TeSt/FAKE"],
    }


def test_names_are_case_insensitive(tmp_path: Path) -> None:
    for folder in ("Train/real", "Train/Fake", "TEST/Real", "TEST/fake"):
        (tmp_path / folder).mkdir(parents=True)
    assert set(find_class_folders(tmp_path)) == {
        ("train", 0),
        ("train", 1),
        ("test", 0),
        ("test", 1),
    }


def test_several_folders_of_one_class_are_all_found(tmp_path: Path) -> None:
    for folder in ("part1/REAL", "part2/REAL", "part1/FAKE"):
        (tmp_path / folder).mkdir(parents=True)
    assert _relative(tmp_path, find_class_folders(tmp_path))[("train", 0)] == [
        "part1/REAL",
        "part2/REAL",
    ]


def test_files_named_like_classes_are_not_folders(tmp_path: Path) -> None:
    _touch(tmp_path, "REAL", "x/FAKE")
    assert find_class_folders(tmp_path) == {}


def test_symlinked_class_folders_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "train").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "train" / "REAL")
    assert find_class_folders(tmp_path) == {}


def test_list_labelled_files(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "data/train/REAL/b.jpg",
        "data/train/REAL/a.PNG",
        "data/train/FAKE/c.jpeg",
        "data/test/fake/d.webp",
        "data/test/real/e.BMP",
    )
    files = list_labelled_files(tmp_path)
    assert all(isinstance(f, LabelledFile) for f in files)
    assert [(f.path.relative_to(tmp_path).as_posix(), f.split, f.label) for f in files] == [
        ("data/test/real/e.BMP", "test", 0),
        ("data/test/fake/d.webp", "test", 1),
        ("data/train/REAL/a.PNG", "train", 0),
        ("data/train/REAL/b.jpg", "train", 0),
        ("data/train/FAKE/c.jpeg", "train", 1),
    ]


def test_non_images_and_subfolders_are_skipped(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "train/REAL/a.jpg",
        "train/REAL/notes.txt",
        "train/REAL/.DS_Store",
        "train/REAL/Thumbs.db",
        "train/REAL/noext",
        "train/FAKE/b.gif",
        "train/FAKE/c.tiff",
        "train/FAKE/d.tif",
    )
    (tmp_path / "train/REAL/sub.jpg").mkdir()
    names = sorted(f.path.name for f in list_labelled_files(tmp_path))
    assert names == ["a.jpg", "b.gif", "c.tiff", "d.tif"]


@pytest.mark.parametrize(
    "folders",
    [
        pytest.param(("train/REAL", "test/REAL"), id="no-FAKE"),
        pytest.param(("train/FAKE",), id="no-REAL"),
        pytest.param(("train/real_images", "train/fake_images"), id="wrong-names"),
        pytest.param((), id="empty"),
    ],
)
def test_missing_class_is_a_user_error(tmp_path: Path, folders: tuple[str, ...]) -> None:
    for folder in folders:
        _touch(tmp_path, f"{folder}/a.jpg")
    with pytest.raises(UserError, match="not in CIFAKE layout: expected REAL/ and FAKE/"):
        list_labelled_files(tmp_path)


def test_class_folders_without_images(tmp_path: Path) -> None:
    _touch(tmp_path, "train/REAL/readme.txt")
    (tmp_path / "train/FAKE").mkdir()
    with pytest.raises(UserError, match="no image files"):
        list_labelled_files(tmp_path)


def test_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is not a folder"):
        list_labelled_files(tmp_path / "missing")
    _touch(tmp_path, "file.jpg")
    with pytest.raises(UserError, match="is not a folder"):
        list_labelled_files(tmp_path / "file.jpg")
