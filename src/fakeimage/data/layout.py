"""The CIFAKE folder layout: `<split>/REAL/*` and `<split>/FAKE/*`, found at any depth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fakeimage.errors import UserError

CLASS_NAMES = ("REAL", "FAKE")
"""Label index -> name. FAKE (1) is the positive class for every metric."""

SPLITS = ("train", "test")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


_IGNORED_FOLDERS = {"__MACOSX"}  # macOS archivers' resource forks, not images


def is_image_file(path: Path) -> bool:
    """A regular, visible file with an image suffix (skips `._x.jpg` macOS metadata)."""
    return (
        path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
        and path.is_file()
        and not path.is_symlink()
    )


def image_files(folder: Path) -> list[Path]:
    """The image files under a folder (any depth), in a fixed order."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: give a folder of image files")
    files = sorted(
        path
        for path in folder.rglob("*")
        if is_image_file(path) and not _hidden(path.relative_to(folder).parts[:-1])
    )
    if not files:
        raise UserError(f"{folder} holds no image files (.png, .jpg, .webp, ...)")
    return files


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    split: str
    label: int
    source: str = ""
    """The sub-folder of REAL/ or FAKE/ the file lies in (FAKE/sd14/x.png: "sd14"), if any."""


def find_class_folders(root: Path) -> dict[tuple[str, int], list[Path]]:
    """Map (split, label) to the REAL/FAKE folders under root.

    A REAL or FAKE folder whose parent is named `test` (any case) belongs to the test split;
    every other one, including REAL/FAKE directly under root, belongs to train.
    """
    folders: dict[tuple[str, int], list[Path]] = {}
    for folder in sorted(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()):
        name = folder.name.upper()
        if _hidden(folder.relative_to(root).parts) or name not in CLASS_NAMES:
            continue
        if any(part.upper() in CLASS_NAMES for part in folder.relative_to(root).parts[:-1]):
            continue  # a REAL/FAKE folder inside another is one of its sources
        split = "test" if folder.parent.name.lower() == "test" else "train"
        folders.setdefault((split, CLASS_NAMES.index(name)), []).append(folder)
    return folders


def _hidden(parts: tuple[str, ...]) -> bool:
    return any(part in _IGNORED_FOLDERS or part.startswith(".") for part in parts)


def _source(class_folder: Path, path: Path) -> str:
    parts = path.relative_to(class_folder).parts
    return parts[0] if len(parts) > 1 else ""


def list_labelled_files(root: Path, *, both_classes: bool = True) -> list[LabelledFile]:
    """Every image file under REAL/ and FAKE/ folders below root (their sub-folders are sources),
    sorted, with split, label and source. A folder of extra sources may hold one class only
    (`both_classes=False`), and then also no image at all."""
    if not root.is_dir():
        raise UserError(f"{root} is not a folder")
    folders = find_class_folders(root)
    labels = {label for _, label in folders}
    if not both_classes:
        if not labels:
            return []
    elif labels != {0, 1}:
        raise UserError(
            f"{root} is not in CIFAKE layout: expected REAL/ and FAKE/ folders "
            "(for example train/REAL, train/FAKE, test/REAL, test/FAKE)"
        )
    files = [
        LabelledFile(path, split, label, _source(directory, path))
        for (split, label), dirs in sorted(folders.items())
        for directory in dirs
        for path in sorted(directory.rglob("*"))
        if is_image_file(path) and not _hidden(path.relative_to(directory).parts[:-1])
    ]
    if not files and both_classes:
        raise UserError(f"{root} holds REAL/ and FAKE/ folders but no image files")
    return files
