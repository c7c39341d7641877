"""Archives are checked in full before extraction; anything unsafe leaves nothing behind."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from fakeimage.data.sources.archives import archive_images, extract_archive
from fakeimage.errors import UserError

MB = 2**20
GOOD = {
    "cifake/train/REAL/a.jpg": b"a" * 100,
    "cifake/train/FAKE/b.jpg": b"b" * 200,
    "cifake/test/REAL/c.jpg": b"c" * 300,
}


def _zip(path: Path, members: dict[str, bytes], infos: tuple[zipfile.ZipInfo, ...] = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as handle:
        for name, data in members.items():
            handle.writestr(name, data)
        for info in infos:
            handle.writestr(info, b"target")
    return path


def _tar(path: Path, members: dict[str, bytes], infos: tuple[tarfile.TarInfo, ...] = ()) -> Path:
    mode = "w:gz" if path.name.endswith(".gz") else "w"
    with tarfile.open(path, mode) as handle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            handle.addfile(info, io.BytesIO(data))
        for info in infos:
            handle.addfile(info)
    return path


def _tar_info(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _zip_symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _refused(archive: Path, destination: Path, pattern: str, max_bytes: int = MB) -> str:
    with pytest.raises(UserError, match=pattern) as caught:
        extract_archive(archive, destination, max_bytes=max_bytes)
    assert not destination.exists()
    assert "\n" not in str(caught.value)
    return str(caught.value)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", ["good.zip", "good.tar", "good.tar.gz", "good.tgz"])
def test_good_archive(tmp_path: Path, name: str) -> None:
    archive = (_zip if name.endswith(".zip") else _tar)(tmp_path / name, GOOD)
    destination = tmp_path / "out" / "extracted"
    written = extract_archive(archive, destination, max_bytes=MB)
    assert written == sum(len(data) for data in GOOD.values())
    assert _tree(destination) == GOOD


def test_directory_entries_and_dot_prefixes(tmp_path: Path) -> None:
    archive = tmp_path / "dirs.tar"
    with tarfile.open(archive, "w") as handle:
        for folder in (".", "./train", "./train/REAL"):
            handle.addfile(_tar_info(folder, tarfile.DIRTYPE))
        info = tarfile.TarInfo("./train/REAL/a.jpg")
        info.size = 3
        handle.addfile(info, io.BytesIO(b"abc"))
    extract_archive(archive, tmp_path / "out", max_bytes=MB)
    assert _tree(tmp_path / "out") == {"train/REAL/a.jpg": b"abc"}


def test_destination_must_not_exist(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "good.zip", GOOD)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        extract_archive(archive, tmp_path / "out", max_bytes=MB)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("kind", ["zip", "tar"])
@pytest.mark.parametrize(
    ("member", "pattern"),
    [
        ("../x.jpg", "climbs out with '..'"),
        ("train/../../x.jpg", "climbs out with '..'"),
        ("..\\x.jpg", "climbs out with '..'"),
        ("/tmp/x.jpg", "refusing absolute path"),
        ("C:/x.jpg", "refusing absolute path"),
    ],
)
def test_escaping_paths_are_refused(tmp_path: Path, kind: str, member: str, pattern: str) -> None:
    members = {"train/REAL/ok.jpg": b"ok", member: b"evil"}
    archive = (_zip if kind == "zip" else _tar)(tmp_path / f"evil.{kind}", members)
    _refused(archive, tmp_path / "out", pattern)
    assert not (tmp_path / "x.jpg").exists()


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "link.zip", GOOD, (_zip_symlink("cifake/train/REAL/l.jpg"),))
    message = _refused(archive, tmp_path / "out", "refusing a symbolic link")
    assert "cifake/train/REAL/l.jpg" in message


def test_zip_special_file_is_refused(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("fifo")
    info.external_attr = (stat.S_IFIFO | 0o644) << 16
    _refused(_zip(tmp_path / "fifo.zip", GOOD, (info,)), tmp_path / "out", "a special file")


@pytest.mark.parametrize(
    ("info", "pattern"),
    [
        (_tar_info("train/REAL/l.jpg", tarfile.SYMTYPE, "/etc/passwd"), "refusing link"),
        (_tar_info("train/REAL/rel.jpg", tarfile.SYMTYPE, "../../x"), "refusing link"),
        (_tar_info("train/REAL/h.jpg", tarfile.LNKTYPE, "cifake/train/REAL/a.jpg"), "link"),
        (_tar_info("dev/null", tarfile.CHRTYPE), "refusing special file"),
        (_tar_info("dev/sda", tarfile.BLKTYPE), "refusing special file"),
        (_tar_info("train/fifo", tarfile.FIFOTYPE), "refusing special file"),
    ],
    ids=["symlink-absolute", "symlink-relative", "hardlink", "chardev", "blockdev", "fifo"],
)
@pytest.mark.parametrize("name", ["bad.tar", "bad.tar.gz"])
def test_tar_links_and_devices_are_refused(
    tmp_path: Path, info: tarfile.TarInfo, pattern: str, name: str
) -> None:
    archive = _tar(tmp_path / name, GOOD, (info,))
    message = _refused(archive, tmp_path / "out", pattern)
    assert info.name in message


def test_checks_happen_before_anything_is_written(tmp_path: Path) -> None:
    """The bad member comes last, so a streaming extractor would already have written files."""
    archive = _tar(tmp_path / "late.tar", GOOD, (_tar_info("z", tarfile.SYMTYPE, "/"),))
    parent = tmp_path / "parent"
    _refused(archive, parent / "out", "refusing link")
    assert list(parent.iterdir()) == []


@pytest.mark.parametrize("name", ["a.zip", "a.tar", "a.tar.gz"])
def test_over_max_bytes_is_refused(tmp_path: Path, name: str) -> None:
    members = {"train/REAL/big.jpg": bytes(600_000), "train/FAKE/big.jpg": bytes(600_000)}
    archive = (_zip if name.endswith(".zip") else _tar)(tmp_path / name, members)
    message = _refused(archive, tmp_path / "out", "over the cap of 1 MiB", max_bytes=MB)
    assert "data.max_extract_mb" in message


def test_max_bytes_is_inclusive(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "exact.zip", {"train/REAL/a.jpg": bytes(1000)})
    assert extract_archive(archive, tmp_path / "out", max_bytes=1000) == 1000


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"this is not an archive\n" * 50, id="text"),
        pytest.param(b"<html><body>Sign in</body></html>", id="html"),
        pytest.param(b"PK\x03\x04" + bytes(100), id="zip-magic-only"),
    ],
)
def test_not_an_archive(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "data.zip"
    archive.write_bytes(content)
    _refused(archive, tmp_path / "out", "is not a zip or tar archive")


def test_truncated_zip(tmp_path: Path) -> None:
    data = _zip(tmp_path / "full.zip", GOOD).read_bytes()
    archive = tmp_path / "cut.zip"
    archive.write_bytes(data[: len(data) // 2])
    _refused(archive, tmp_path / "out", "corrupt")


def test_zip_with_a_bad_crc(tmp_path: Path) -> None:
    archive = tmp_path / "crc.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as handle:
        handle.writestr("train/REAL/a.jpg", b"x" * 1000)
    data = bytearray(archive.read_bytes())
    data[data.index(b"x" * 1000) + 500] = ord("y")
    archive.write_bytes(bytes(data))
    _refused(archive, tmp_path / "out", "is corrupt or truncated")


def test_truncated_tar_gz(tmp_path: Path) -> None:
    members = {f"train/REAL/{i}.jpg": bytes([i]) * 5000 + bytes(range(256)) for i in range(5)}
    data = _tar(tmp_path / "full.tar.gz", members).read_bytes()
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(data[: len(data) // 2])
    _refused(archive, tmp_path / "out", "is corrupt or truncated")


def test_tar_truncated_inside_a_member(tmp_path: Path) -> None:
    data = _tar(tmp_path / "full.tar", {"a.jpg": bytes(3000), "b.jpg": bytes(3000)}).read_bytes()
    archive = tmp_path / "cut.tar"
    archive.write_bytes(data[: 512 + 1500])  # header of a.jpg, then half its data
    _refused(archive, tmp_path / "out", "is corrupt or truncated")


def test_tar_truncated_between_members(tmp_path: Path) -> None:
    data = _tar(tmp_path / "full.tar", {"a.jpg": bytes(3000), "b.jpg": bytes(3000)}).read_bytes()
    archive = tmp_path / "cut.tar"
    archive.write_bytes(data[: 512 + 3072 + 100])  # a.jpg complete, b.jpg's header cut
    try:
        extract_archive(archive, tmp_path / "out", max_bytes=MB)
    except UserError:
        return
    raise AssertionError(f"extracted without error: {sorted(_tree(tmp_path / 'out'))}")


def test_missing_archive(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.zip", tmp_path / "out", "not found")


@pytest.mark.parametrize("name", ["images.zip", "images.tar.gz"])
def test_archive_images_reads_image_members_in_memory(tmp_path: Path, name: str) -> None:
    members = {**GOOD, "cifake/notes.txt": b"text", "__MACOSX/cifake/._a.jpg": b"fork"}
    archive = (_zip if name.endswith(".zip") else _tar)(tmp_path / name, members)
    found = dict(archive_images(archive, max_bytes=MB))
    assert found == {name: data for name, data in sorted(GOOD.items())}
    assert list(tmp_path.iterdir()) == [archive]  # nothing extracted
    with pytest.raises(UserError, match="over the cap of"):
        list(archive_images(archive, max_bytes=599))


def test_archive_images_refuses_what_extraction_refuses(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "bad.zip", {"../escape.jpg": b"x"})
    with pytest.raises(UserError, match="climbs out"):
        list(archive_images(archive, max_bytes=MB))
