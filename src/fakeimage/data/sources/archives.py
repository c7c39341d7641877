"""Safe extraction of zip and tar archives.

An archive is checked in full before anything is written: absolute paths, `..` components,
links and device files are refused, and so is a total size over the cap. While extracting,
the bytes actually written are counted too, so a lying size header cannot exceed the cap.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from fakeimage.data.layout import IMAGE_SUFFIXES
from fakeimage.errors import UserError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Member:
    name: str
    size: int
    is_dir: bool


def _safe_relative_path(name: str, archive: Path) -> PurePosixPath:
    normalised = name.replace("\\", "/")
    path = PurePosixPath(normalised)
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise UserError(f"{archive.name}: refusing absolute path {name!r} in the archive")
    if ".." in path.parts:
        raise UserError(f"{archive.name}: refusing path {name!r} that climbs out with '..'")
    return path


def _zip_members(handle: zipfile.ZipFile, archive: Path) -> list[_Member]:
    members = []
    for info in handle.infolist():
        file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver stored none
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            kind = "a symbolic link" if file_type == stat.S_IFLNK else "a special file"
            raise UserError(f"{archive.name}: refusing {kind} {info.filename!r} in the archive")
        _safe_relative_path(info.filename, archive)
        members.append(_Member(info.filename, info.file_size, info.is_dir()))
    return members


def _tar_members(handle: tarfile.TarFile, archive: Path) -> list[_Member]:
    members = []
    for info in handle.getmembers():
        if info.issym() or info.islnk():
            raise UserError(f"{archive.name}: refusing link {info.name!r} in the archive")
        if not (info.isfile() or info.isdir()):
            raise UserError(f"{archive.name}: refusing special file {info.name!r} in the archive")
        _safe_relative_path(info.name, archive)
        members.append(_Member(info.name, info.size, info.isdir()))
    # tarfile stops quietly at a cut-off header: insist on the zero block that ends a tar.
    handle.fileobj.seek(handle.offset)  # type: ignore[union-attr]
    end = handle.fileobj.read(tarfile.BLOCKSIZE)  # type: ignore[union-attr]
    if len(end) < tarfile.BLOCKSIZE or end.strip(b"\0"):
        raise UserError(
            f"{archive} is truncated or corrupt (no end-of-archive block); fetch it again"
        )
    return members


@contextmanager
def _open_archive(archive: Path) -> Iterator[tuple[list[_Member], object]]:
    """Yield the checked member list and an `open(name) -> binary file` function."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as handle:
                yield _zip_members(handle, archive), handle.open
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive, mode="r:*") as handle:
                yield _tar_members(handle, archive), handle.extractfile
        else:
            raise UserError(f"{archive} is not a zip or tar archive (or it is corrupt)")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise UserError(
                f"archive {archive} not found: check data.source.path in params.yaml"
            ) from None
        raise UserError(f"{archive} is corrupt or truncated ({exc}); download it again") from None


def extract_archive(archive: Path, destination: Path, *, max_bytes: int) -> int:
    """Extract a zip or tar archive into destination (created, must not exist); return bytes.

    On any error the partly written destination is removed, so nothing half-extracted stays.
    """
    if not archive.is_file():
        raise UserError(f"archive {archive} not found: check data.source.path in params.yaml")
    destination.mkdir(parents=True)
    try:
        with _open_archive(archive) as (members, open_member):
            declared = sum(m.size for m in members)
            if declared > max_bytes:
                raise UserError(
                    f"{archive.name} would extract to {declared / 2**20:,.0f} MiB, over the cap of "
                    f"{max_bytes / 2**20:,.0f} MiB (data.max_extract_mb)"
                )
            written = 0
            for member in members:
                target = destination.joinpath(*_safe_relative_path(member.name, archive).parts)
                if member.is_dir:
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with open_member(member.name) as source, target.open("wb") as sink:  # type: ignore[operator]
                    written += _copy_capped(source, sink, max_bytes - written, archive)
        return written
    except BaseException:
        shutil.rmtree(destination, ignore_errors=True)
        raise


def archive_images(archive: Path, *, max_bytes: int) -> Iterator[tuple[str, bytes]]:
    """Each image member of a zip or tar (by suffix, sorted by name) with its bytes, read in
    memory without extracting: the same checks as `extract_archive`, and the same cap."""
    with _open_archive(archive) as (members, open_member):
        images = sorted(
            (m for m in members if not m.is_dir and _is_image_name(m.name)), key=lambda m: m.name
        )
        declared = sum(m.size for m in images)
        if declared > max_bytes:
            raise UserError(
                f"{archive.name} holds {declared / 2**20:,.0f} MiB of images, over the cap of "
                f"{max_bytes / 2**20:,.0f} MiB: extract it and pass the folder"
            )
        for member in images:
            with open_member(member.name) as source:  # type: ignore[operator]
                data = source.read(member.size + 1)
            if len(data) > member.size:
                raise UserError(f"{archive.name}: {member.name} is larger than declared; refusing")
            yield member.name, data


def _is_image_name(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in path.parts)
    return path.suffix.lower() in IMAGE_SUFFIXES and not hidden


def _copy_capped(source: IO[bytes], sink: IO[bytes], budget: int, archive: Path) -> int:
    copied = 0
    while chunk := source.read(_CHUNK):
        copied += len(chunk)
        if copied > budget:
            raise UserError(f"{archive.name} extracts to more than its declared size; refusing it")
        sink.write(chunk)
    return copied
