"""Where the images come from (`data.source`), always delivered in CIFAKE's layout.

params.yaml's reading already made sure each kind of source has what it needs (a path, an
http(s) URL with its sha256): what is left here is what only fetching can tell, such as a
file that is not there or a checksum that does not match.

Every source ends the same way: `<raw>/<split>/<REAL|FAKE>/<file>`, written into a temporary
folder that replaces the previous output only when complete, so a failed fetch leaves the last
good data exactly as it was.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path
from typing import assert_never
from urllib.parse import urlparse

from fakeimage.atomic import replace_directory
from fakeimage.config import (
    ArchiveSource,
    DataParams,
    EmbeddedSource,
    FolderSource,
    KaggleSource,
    Source,
    SyntheticSource,
    UrlSource,
)
from fakeimage.data.layout import CLASS_NAMES, find_class_folders, is_image_file
from fakeimage.data.sources.archives import extract_archive
from fakeimage.data.sources.download import download, sha256_of
from fakeimage.data.sources.embedded import EMBEDDED_ARCHIVE, embedded_checksum
from fakeimage.data.sources.kaggle import download_kaggle_dataset
from fakeimage.errors import UserError


def fetch(params: DataParams, raw_dir: Path, downloads_dir: Path) -> dict[str, int]:
    """Deliver the images of `params.source` into raw_dir; return counts per split/label."""
    for pattern in (f".{raw_dir.name}.tmp-*", f".{raw_dir.name}.old-*"):  # left by a kill
        for stale in raw_dir.parent.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)
    staging = raw_dir.parent / f".{raw_dir.name}.tmp-{os.getpid()}"
    try:
        _deliver(params, staging, downloads_dir)
        counts = _count(staging)
        replace_directory(staging, raw_dir)
        return counts
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _deliver(params: DataParams, staging: Path, downloads_dir: Path) -> None:
    match params.source:
        case SyntheticSource() as settings:
            from fakeimage.startup import import_tensorflow

            import_tensorflow()  # quietly, before the generator's module imports it
            from fakeimage.data.sources.synthetic import generate_synthetic

            staging.mkdir(parents=True)
            generate_synthetic(staging, settings)
            return
        case FolderSource(path=path):
            if not Path(path).is_dir():
                raise UserError(
                    f"data.source.path {path} is not a folder: point it at a CIFAKE-layout folder"
                )
            _arrange(Path(path), staging, move=False)
            return
        case EmbeddedSource():
            archive = _embedded_archive()
        case ArchiveSource(path=path, sha256=sha256):
            archive = _local_archive(Path(path), sha256)
        case UrlSource(url=url, sha256=sha256):
            name = Path(urlparse(url).path).name or "download"
            archive = download(url, downloads_dir / f"{sha256[:12]}-{name}", sha256=sha256)
        case KaggleSource(dataset=dataset, sha256=sha256):
            target = downloads_dir / (dataset.replace("/", "__") + ".zip")
            archive = download_kaggle_dataset(dataset, target, sha256=sha256)
        case unknown:
            assert_never(unknown)
    extracted = staging.with_name(staging.name + "-extract")
    try:
        print(f"fetch: extracting {archive}", flush=True)
        extract_archive(archive, extracted, max_bytes=params.max_extract_mb * 2**20)
        _arrange(extracted, staging, move=True)
    finally:
        shutil.rmtree(extracted, ignore_errors=True)


def _embedded_archive() -> Path:
    archive = EMBEDDED_ARCHIVE
    if not archive.is_file() or sha256_of(archive) != embedded_checksum():
        raise UserError(
            f"{archive} is missing or damaged: restore it with `git checkout -- {archive}`"
        )
    return archive


def _local_archive(archive: Path, sha256: str | None) -> Path:
    if not archive.is_file():
        raise UserError(f"archive {archive} not found: check data.source.path in params.yaml")
    if sha256 and sha256_of(archive) != sha256.lower():
        raise UserError(f"{archive} does not match data.source.sha256: wrong or damaged file")
    return archive


def describe_source(source: Source) -> str:
    """The data source in words, for model cards."""
    match source:
        case EmbeddedSource():
            where = f"{EMBEDDED_ARCHIVE} (real CIFAKE images the reference never trained on)"
        case SyntheticSource():
            where = "generated on the spot (bundled photographs vs. a small VAE's samples)"
        case KaggleSource(dataset=dataset):
            where = f"Kaggle dataset {dataset}"
        case UrlSource(url=where) | ArchiveSource(path=where) | FolderSource(path=where):
            pass
        case unknown:
            assert_never(unknown)
    return f"{source.kind}: {where}"


def _arrange(source_root: Path, staging: Path, *, move: bool) -> None:
    """Lay the REAL/FAKE folders found under source_root out as staging/<split>/<LABEL>/,
    keeping their first level of sub-folders: those are sources (FAKE/midjourney/...)."""
    folders = find_class_folders(source_root)
    if {label for _, label in folders} != {0, 1}:
        raise UserError(
            f"no CIFAKE layout in {source_root.name}: expected REAL/ and FAKE/ folders "
            "(for example train/REAL, train/FAKE, test/REAL, test/FAKE)"
        )
    transfer = shutil.move if move else shutil.copy2
    for (split, label), directories in folders.items():
        target_dir = staging / split / CLASS_NAMES[label]
        target_dir.mkdir(parents=True, exist_ok=True)
        for index, directory in enumerate(directories):
            prefix = f"{index}_" if len(directories) > 1 else ""
            for path in sorted(directory.rglob("*")):
                parts = path.relative_to(directory).parts
                if not is_image_file(path) or any(p.startswith(".") for p in parts[:-1]):
                    continue
                target = target_dir / parts[0] if len(parts) > 1 else target_dir
                target.mkdir(exist_ok=True)
                name = "_".join(parts[1:] if len(parts) > 1 else parts)
                transfer(str(path), str(target / f"{prefix}{name}"))


def _count(staging: Path) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for path in staging.rglob("*"):
        if path.is_file():
            split, label = path.relative_to(staging).parts[:2]
            counts[f"{split}/{label}"] += 1
    if not counts:
        raise UserError("the source delivered no images")
    return dict(sorted(counts.items()))
