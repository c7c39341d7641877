"""fetch() delivers every source as raw/<split>/<LABEL>/ and never damages the last good raw."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from fakeimage.config import (
    ArchiveSource,
    DataParams,
    EmbeddedSource,
    FolderSource,
    KaggleSource,
    SyntheticSource,
    UrlSource,
    parse_params,
)
from fakeimage.data.sources import describe_source, fetch
from fakeimage.errors import UserError

pytestmark = pytest.mark.timeout(60)

COUNTS = {"train/REAL": 3, "train/FAKE": 2, "test/REAL": 2, "test/FAKE": 1}


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _leftovers(raw: Path) -> list[str]:
    return sorted(p.name for p in raw.parent.iterdir() if p.name.startswith(".raw"))


@pytest.fixture
def source(tmp_path: Path, write_cifake) -> Path:
    """A CIFAKE-layout folder nested one level down: source/cifake/{train,test}/{REAL,FAKE}."""
    write_cifake(tmp_path / "source" / "cifake", COUNTS)
    return tmp_path / "source"


@pytest.fixture
def previous_raw(tmp_path: Path, write_cifake) -> tuple[Path, dict[str, bytes]]:
    """A raw folder from an earlier, good fetch, and a snapshot of its contents."""
    raw = tmp_path / "data" / "raw"
    write_cifake(raw, {"train/REAL": 2, "train/FAKE": 2}, seed=99)
    return raw, _snapshot(raw)


def _expected(source: Path) -> dict[str, bytes]:
    return {
        key.removeprefix("cifake/"): data
        for key, data in _snapshot(source).items()
        if key.startswith("cifake/")
    }


def _fetch(params: DataParams, tmp_path: Path) -> tuple[Path, dict[str, int]]:
    raw = tmp_path / "data" / "raw"
    return raw, fetch(params, raw, tmp_path / "data" / "downloads")


# --- sources -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cifake.zip", "cifake.tar", "cifake.tar.gz"])
def test_archive(tmp_path: Path, source: Path, pack, name: str) -> None:
    archive = pack(source, tmp_path / "archives" / name)
    raw, counts = _fetch(DataParams(source=ArchiveSource(path=str(archive))), tmp_path)
    assert counts == dict(sorted(COUNTS.items()))
    assert _snapshot(raw) == _expected(source)  # cifake/train/REAL -> raw/train/REAL
    assert _leftovers(raw) == []
    assert archive.is_file()  # the archive itself is left alone


def test_archive_with_matching_sha256(tmp_path: Path, source: Path, pack) -> None:
    archive = pack(source, tmp_path / "a.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest().upper()
    raw, _ = _fetch(DataParams(source=ArchiveSource(path=str(archive), sha256=digest)), tmp_path)
    assert _snapshot(raw) == _expected(source)


def test_folder(tmp_path: Path, source: Path) -> None:
    before = _snapshot(source)
    raw, counts = _fetch(DataParams(source=FolderSource(path=str(source))), tmp_path)
    assert counts == dict(sorted(COUNTS.items()))
    assert _snapshot(raw) == _expected(source)
    assert _snapshot(source) == before  # copied, not moved
    assert _leftovers(raw) == []


def test_sub_folders_of_a_class_are_kept_as_sources(tmp_path: Path, write_cifake) -> None:
    folder = tmp_path / "mine"
    write_cifake(folder, {"REAL": 2, "REAL/phone": 2, "FAKE/sd14": 2, "FAKE/midjourney/v6": 1})
    raw, counts = _fetch(DataParams(source=FolderSource(path=str(folder))), tmp_path)
    assert counts == {"train/FAKE": 3, "train/REAL": 4}
    files = {p.relative_to(raw).as_posix() for p in raw.rglob("*") if p.is_file()}
    assert "train/REAL/phone/000.png" in files and "train/REAL/000.png" in files
    assert "train/FAKE/midjourney/v6_000.png" in files  # deeper folders fold into the name


def test_url(tmp_path: Path, source: Path, pack, local_server) -> None:
    archive = pack(source, tmp_path / "served" / "cifake.zip")
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    url = local_server.serve("/files/cifake.zip", archive.read_bytes())
    raw, counts = _fetch(DataParams(source=UrlSource(url=url, sha256=digest)), tmp_path)
    assert counts == dict(sorted(COUNTS.items()))
    assert _snapshot(raw) == _expected(source)
    downloads = tmp_path / "data" / "downloads"
    assert [p.name for p in downloads.iterdir()] == [f"{digest[:12]}-cifake.zip"]
    assert _leftovers(raw) == []


def test_fetch_replaces_the_previous_raw(
    tmp_path: Path, source: Path, previous_raw: tuple[Path, dict[str, bytes]]
) -> None:
    raw, _ = previous_raw
    (raw / "stray.txt").write_text("from an older layout")
    _fetch(DataParams(source=FolderSource(path=str(source))), tmp_path)
    assert _snapshot(raw) == _expected(source)
    assert _leftovers(raw) == []


def test_nested_layouts_are_normalised(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path / "src" / "deep" / "er" / "cifake" / "train", {"REAL": 2, "FAKE": 2})
    write_cifake(tmp_path / "src" / "deep" / "er" / "cifake" / "test", {"real": 1, "Fake": 1})
    raw, counts = _fetch(DataParams(source=FolderSource(path=str(tmp_path / "src"))), tmp_path)
    assert counts == {"test/FAKE": 1, "test/REAL": 1, "train/FAKE": 2, "train/REAL": 2}
    assert sorted(p.relative_to(raw).as_posix() for p in raw.glob("*/*")) == [
        "test/FAKE",
        "test/REAL",
        "train/FAKE",
        "train/REAL",
    ]


def test_class_folders_without_a_split_are_train(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path / "src", {"REAL": 2, "FAKE": 3})
    _, counts = _fetch(DataParams(source=FolderSource(path=str(tmp_path / "src"))), tmp_path)
    assert counts == {"train/FAKE": 3, "train/REAL": 2}


def test_several_folders_per_class_are_merged_without_clashes(tmp_path: Path, write_cifake) -> None:
    write_cifake(tmp_path / "src" / "part1", {"REAL": 2, "FAKE": 2}, seed=1)
    write_cifake(tmp_path / "src" / "part2", {"REAL": 2, "FAKE": 2}, seed=2)
    raw, counts = _fetch(DataParams(source=FolderSource(path=str(tmp_path / "src"))), tmp_path)
    assert counts == {"train/FAKE": 4, "train/REAL": 4}
    assert sorted(p.name for p in (raw / "train" / "REAL").iterdir()) == [
        "0_000.png",
        "0_001.png",
        "1_000.png",
        "1_001.png",
    ]


def test_non_images_and_symlinks_are_not_delivered(tmp_path: Path, write_cifake) -> None:
    written = write_cifake(tmp_path / "src", {"train/REAL": 1, "train/FAKE": 1})
    (tmp_path / "src" / "train" / "REAL" / "notes.txt").write_text("hi")
    os.symlink(written["train/FAKE"][0], tmp_path / "src" / "train" / "REAL" / "link.png")
    raw, counts = _fetch(DataParams(source=FolderSource(path=str(tmp_path / "src"))), tmp_path)
    assert counts == {"train/FAKE": 1, "train/REAL": 1}
    assert [p.name for p in (raw / "train" / "REAL").iterdir()] == ["000.png"]


# --- failures leave the previous raw exactly as it was ---------------------------------------


def _fails_cleanly(
    params: DataParams,
    tmp_path: Path,
    previous_raw: tuple[Path, dict[str, bytes]],
    pattern: str,
) -> str:
    raw, snapshot = previous_raw
    with pytest.raises(UserError, match=pattern) as caught:
        fetch(params, raw, tmp_path / "data" / "downloads")
    assert _snapshot(raw) == snapshot
    assert _leftovers(raw) == []
    return str(caught.value)


def test_unknown_archive_path(tmp_path: Path, previous_raw) -> None:
    params = DataParams(source=ArchiveSource(path=str(tmp_path / "missing.zip")))
    _fails_cleanly(params, tmp_path, previous_raw, "missing.zip not found: check data.source.path")


def test_unknown_folder_path(tmp_path: Path, previous_raw) -> None:
    params = DataParams(source=FolderSource(path=str(tmp_path / "missing")))
    _fails_cleanly(params, tmp_path, previous_raw, "is not a folder")


# --- what a source lacks is caught when params.yaml is read, before fetch starts ------------


def _refused_at_load(source: dict) -> str:
    with pytest.raises(UserError) as caught:
        parse_params({"data": {"source": source}})
    return str(caught.value)


@pytest.mark.parametrize(
    ("source", "what"),
    [
        ({"kind": "archive"}, "a local zip or tar file"),
        ({"kind": "archive", "path": ""}, "a local zip or tar file"),
        ({"kind": "folder", "path": None}, "a folder in CIFAKE layout"),
    ],
)
def test_path_not_set(source: dict, what: str) -> None:
    message = _refused_at_load(source)
    assert message == f"params.yaml: data.source.path is not set: give {what}"


def test_url_without_sha256() -> None:
    message = _refused_at_load({"kind": "url", "url": "https://example.org/a.zip"})
    assert message == (
        "params.yaml: data.source.sha256 is not set: give the archive's expected sha256"
    )


def test_url_not_set() -> None:
    message = _refused_at_load({"kind": "url", "sha256": "0" * 64})
    assert message == (
        "params.yaml: data.source.url is not set: give an http(s) URL of a zip or tar archive"
    )


@pytest.mark.parametrize(
    "url", ["ftp://example.org/a.zip", "file:///etc/passwd", "/local/a.zip", "example.org/a"]
)
def test_non_http_url(url: str) -> None:
    message = _refused_at_load({"kind": "url", "url": url, "sha256": "0" * 64})
    assert message == f"params.yaml: data.source.url must be an http(s) URL, got {url!r}"


def test_kaggle_dataset_must_be_owner_and_name() -> None:
    message = _refused_at_load({"kind": "kaggle", "dataset": "cifake"})
    assert message == "params.yaml: data.source.dataset must look like 'owner/name', got 'cifake'"


def test_every_kind_is_described() -> None:
    sources = [
        EmbeddedSource(),
        ArchiveSource(path="a.zip"),
        FolderSource(path="cifake"),
        UrlSource(url="https://example.org/a.zip", sha256="0" * 64),
        KaggleSource(),
        SyntheticSource(),
    ]
    described = [describe_source(source) for source in sources]
    assert [line.partition(":")[0] for line in described] == [s.kind for s in sources]
    assert described[1] == "archive: a.zip"
    assert described[3] == "url: https://example.org/a.zip"
    assert "Kaggle dataset birdy654/" in described[4]


def test_url_with_wrong_sha256(
    tmp_path: Path, previous_raw, source: Path, pack, local_server
) -> None:
    archive = pack(source, tmp_path / "served.zip")
    url = local_server.serve("/a.zip", archive.read_bytes())
    params = DataParams(source=UrlSource(url=url, sha256="0" * 64))
    _fails_cleanly(params, tmp_path, previous_raw, "checksum mismatch")
    assert list((tmp_path / "data" / "downloads").iterdir()) == []


def test_url_http_error(tmp_path: Path, previous_raw, local_server) -> None:
    params = DataParams(source=UrlSource(url=local_server.url("/gone.zip"), sha256="0" * 64))
    _fails_cleanly(params, tmp_path, previous_raw, "HTTP 404")


def test_archive_without_real_and_fake(tmp_path: Path, previous_raw, write_cifake, pack) -> None:
    write_cifake(tmp_path / "other", {"images/cats": 2, "images/dogs": 2})
    archive = pack(tmp_path / "other", tmp_path / "other.zip")
    params = DataParams(source=ArchiveSource(path=str(archive)))
    _fails_cleanly(params, tmp_path, previous_raw, "no CIFAKE layout")


def test_archive_with_one_class(tmp_path: Path, previous_raw, write_cifake, pack) -> None:
    write_cifake(tmp_path / "other", {"train/REAL": 2})
    archive = pack(tmp_path / "other", tmp_path / "other.tar")
    params = DataParams(source=ArchiveSource(path=str(archive)))
    _fails_cleanly(params, tmp_path, previous_raw, "expected REAL/ and FAKE/")


def test_archive_with_wrong_sha256(tmp_path: Path, previous_raw, source: Path, pack) -> None:
    archive = pack(source, tmp_path / "a.zip")
    params = DataParams(source=ArchiveSource(path=str(archive), sha256="f" * 64))
    _fails_cleanly(params, tmp_path, previous_raw, "does not match data.source.sha256")


def test_unsafe_archive(tmp_path: Path, previous_raw) -> None:
    import zipfile

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("train/REAL/a.png", b"x")
        handle.writestr("../../escape.png", b"x")
    params = DataParams(source=ArchiveSource(path=str(archive)))
    _fails_cleanly(params, tmp_path, previous_raw, "climbs out")
    assert not (tmp_path / "escape.png").exists()


def test_archive_over_the_size_cap(tmp_path: Path, previous_raw, write_cifake, pack) -> None:
    write_cifake(tmp_path / "big", {"train/REAL": 1, "train/FAKE": 1})
    (tmp_path / "big" / "train" / "REAL" / "huge.bmp").write_bytes(bytes(2 * 2**20))
    archive = pack(tmp_path / "big", tmp_path / "big.zip")
    params = DataParams(source=ArchiveSource(path=str(archive)), max_extract_mb=1)
    _fails_cleanly(params, tmp_path, previous_raw, "over the cap")


def test_corrupt_archive(tmp_path: Path, previous_raw) -> None:
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"PK\x03\x04 truncated download")
    params = DataParams(source=ArchiveSource(path=str(archive)))
    _fails_cleanly(params, tmp_path, previous_raw, "not a zip or tar archive")


def test_source_without_images(tmp_path: Path, previous_raw) -> None:
    for folder in ("src/train/REAL", "src/train/FAKE"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "readme.txt").write_text("no images here")
    params = DataParams(source=FolderSource(path=str(tmp_path / "src")))
    _fails_cleanly(params, tmp_path, previous_raw, "delivered no images")


def test_stale_staging_folders_are_cleared(tmp_path: Path, source: Path) -> None:
    """Leftovers of a killed earlier fetch (other pid) are removed by the next one."""
    data = tmp_path / "data"
    for stale in (".raw.tmp-1", ".raw.tmp-1-extract"):
        (data / stale / "train").mkdir(parents=True)
    raw, _ = _fetch(DataParams(source=FolderSource(path=str(source))), tmp_path)
    assert _leftovers(raw) == []


def test_no_previous_raw_and_a_failure_leave_nothing(tmp_path: Path) -> None:
    raw = tmp_path / "data" / "raw"
    raw.parent.mkdir()
    with pytest.raises(UserError):
        fetch(DataParams(source=ArchiveSource(path=str(tmp_path / "x.zip"))), raw, tmp_path / "dl")
    assert list(raw.parent.iterdir()) == []


def test_stale_previous_folders_are_cleared(tmp_path: Path, source: Path) -> None:
    (tmp_path / "data" / ".raw.old-1" / "train").mkdir(parents=True)
    raw, _ = _fetch(DataParams(source=FolderSource(path=str(source))), tmp_path)
    assert _leftovers(raw) == []


def test_a_stale_previous_folder_with_our_pid_does_not_break_fetch(
    tmp_path: Path, source: Path, previous_raw
) -> None:
    raw, _ = previous_raw
    (raw.parent / f".raw.old-{os.getpid()}" / "train").mkdir(parents=True)
    _fetch(DataParams(source=FolderSource(path=str(source))), tmp_path)
    assert _snapshot(raw) == _expected(source)


def test_macos_archive_metadata_is_ignored(tmp_path: Path, source: Path) -> None:
    import zipfile

    archive = tmp_path / "mac.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in sorted(source.rglob("*.png")):
            relative = path.relative_to(source).as_posix()
            handle.write(path, relative)
            resource_fork = f"__MACOSX/{Path(relative).parent}/._{path.name}"
            handle.writestr(resource_fork, b"\x00\x05\x16\x07" + bytes(80))
    raw, counts = _fetch(DataParams(source=ArchiveSource(path=str(archive))), tmp_path)
    assert counts == dict(sorted(COUNTS.items()))
    assert _snapshot(raw) == _expected(source)
