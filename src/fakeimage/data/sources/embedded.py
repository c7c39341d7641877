"""The embedded default data: a small real CIFAKE subset that ships with the repository.

`make run` trains on it with no network and no credentials. It is drawn only from the shipped
reference's held-out test split (carved from the official train split by the preprocess stage),
so the reference never trained on, tuned on or picked a threshold on any of its images, and
the promote stage can compare a new model with the reference on it fairly.

`fakeimage embedded-data --train-zip cifake-train.zip` rebuilds the archive byte for byte: it
re-runs the reference's preprocessing, checks the result against the reference's data
fingerprint, and picks images by content hash.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakeimage.atomic import write_bytes, write_text
from fakeimage.data.dataset import fingerprint
from fakeimage.data.hashes import image_digest, training_record
from fakeimage.data.layout import CLASS_NAMES, list_labelled_files
from fakeimage.data.preprocess import decode_files, deduplicate, make_splits
from fakeimage.data.sources.archives import extract_archive
from fakeimage.errors import UserError

EMBEDDED_DIR = Path("data/embedded")
EMBEDDED_ARCHIVE = EMBEDDED_DIR / "cifake-embedded.zip"
CHECKSUM_SUFFIX = ".sha256"
PER_CLASS = 2000
TEST_SHARE = 0.2
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed member times: the same images give the same bytes


@dataclass(frozen=True)
class SplitSettings:
    """How the reference's preprocess stage split the official train split."""

    val_fraction: float
    test_fraction: float
    seed: int
    fingerprint: str


def embedded_checksum() -> str:
    """The sha256 the embedded archive must have (from the file committed beside it)."""
    path = EMBEDDED_ARCHIVE.with_name(EMBEDDED_ARCHIVE.name + CHECKSUM_SUFFIX)
    if not path.is_file():
        raise UserError(f"{path} not found: the embedded default data is incomplete in this copy")
    return path.read_text().split()[0]


def build_embedded_archive(
    train_zip: Path,
    settings: SplitSettings,
    *,
    per_class: int = PER_CLASS,
    output: Path = EMBEDDED_ARCHIVE,
) -> tuple[dict[str, int], np.ndarray]:
    """Rebuild the embedded archive from the official train split; return counts per folder
    and the reference's training-image record, which the same split yields."""
    with tempfile.TemporaryDirectory(prefix="fakeimage-embedded-") as scratch:
        extracted = Path(scratch) / "train-split"
        print(f"embedded-data: extracting {train_zip}", flush=True)
        extract_archive(train_zip, extracted, max_bytes=4 * 2**30)
        files = list_labelled_files(extracted)
        decoded, bad = decode_files(files)
        if bad["count"]:
            raise UserError(
                f"{train_zip} has {bad['count']} unreadable files: not the official one"
            )
        file_of = {}
        for split, items in decoded.items():
            paths = [f.path for f in files if f.split == split]
            for digest, path in zip(items.hashes, paths, strict=True):
                file_of.setdefault(digest, path)
        deduplicated, _ = deduplicate(decoded)
        datasets = make_splits(
            deduplicated,
            val_fraction=settings.val_fraction,
            test_fraction=settings.test_fraction,
            seed=settings.seed,
        )
        if fingerprint(datasets) != settings.fingerprint:
            raise UserError(
                f"{train_zip} with the reference's split settings does not reproduce the "
                "reference's data fingerprint: it is not the official CIFAKE train split"
            )
        record = training_record(datasets["train"].x)
        test = datasets["test"]
        by_class: dict[int, list[str]] = defaultdict(list)
        for pixels, label in zip(test.x, test.y, strict=True):
            by_class[int(label)].append(image_digest(pixels))
        members: list[tuple[str, Path]] = []
        counts: dict[str, int] = {}
        for label, digests in sorted(by_class.items()):
            chosen = sorted(digests)[:per_class]
            if len(chosen) < per_class:
                raise UserError(f"only {len(chosen)} {CLASS_NAMES[label]} test images to draw")
            n_test = round(per_class * TEST_SHARE)
            for split, part in (("test", chosen[:n_test]), ("train", chosen[n_test:])):
                folder = f"{split}/{CLASS_NAMES[label]}"
                counts[folder] = len(part)
                members += [(f"{folder}/{file_of[d].name}", file_of[d]) for d in part]
        _write_zip(output, sorted(members))
    return counts, record


def _write_zip(output: Path, members: list[tuple[str, Path]]) -> None:
    """An uncompressed zip (JPEGs do not shrink) with fixed times, then its checksum file."""
    import hashlib
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, path in members:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    data = buffer.getvalue()
    write_bytes(output, data)
    digest = hashlib.sha256(data).hexdigest()
    write_text(output.with_name(output.name + CHECKSUM_SUFFIX), f"{digest}  {output.name}\n")
