"""data/extra: your own sources, one folder each, which preprocess adds to the data.

`data/extra/FAKE/<name>/` and `data/extra/REAL/<name>/` hold images of one source each (a new
generator, a camera); their images are split into train, validation and test like any other
source's. `data/extra/test/<CLASS>/<name>/` holds images that are only ever scored (never
trained or validated on). The folder's README says the same for people.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fakeimage.data.layout import image_files
from fakeimage.errors import UserError
from fakeimage.paths import EXTRA_DIR

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def source_name(name: str) -> str:
    """A source folder's name as reports and data.sources spell it: letters, digits, `_.-`."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip()).strip("-_.")
    if not _NAME.fullmatch(cleaned):
        raise UserError(f"{name!r} cannot name a source: use letters, digits, '_', '.' or '-'")
    return cleaned


def source_folder(label: str, name: str, *, scored_only: bool = False) -> Path:
    """Where a source's images go: data/extra/<LABEL>/<name>, or under test/ if only scored."""
    return EXTRA_DIR / ("test" if scored_only else "") / label / name


def add_source(images: Path, target: Path) -> int:
    """Copy the image files under `images` into the new source folder `target`; their count.

    Nested folders are flattened into file names. The copy is written beside the target and
    renamed into place, so an interrupted copy leaves no half-filled source. A target that
    already holds these files (same names and sizes) is kept, so the command can be run again;
    one that holds others is refused, since mixing two generators under one name would blur
    both. Two files that would flatten to one name are refused too.
    """
    files = image_files(images)
    names = ["_".join(path.relative_to(images).parts) for path in files]
    if len(set(names)) < len(names):
        raise UserError(
            f"{images}: two files would both be named {_first_repeat(names)} once its "
            "sub-folders are flattened; rename one"
        )
    if target.exists():
        present = {path.name: path.stat().st_size for path in target.iterdir()}
        wanted = {name: path.stat().st_size for name, path in zip(names, files, strict=True)}
        if present == wanted:
            return len(files)
        raise UserError(
            f"{target} already holds other images: choose another name, or remove that folder"
        )
    staging = target.with_name(f".{target.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for path, name in zip(files, names, strict=True):
        shutil.copyfile(path, staging / name)
    staging.rename(target)
    return len(files)


def _first_repeat(names: list[str]) -> str:
    seen: set[str] = set()
    return next(name for name in names if name in seen or seen.add(name))
