"""Downloads from a real local HTTP server: verified, atomic, reused when already present."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from fakeimage.data.sources.download import download, sha256_of
from fakeimage.errors import UserError

pytestmark = pytest.mark.timeout(60)

PAYLOAD = b"archive bytes " * 5000
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_sha256_of(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    assert sha256_of(path) == PAYLOAD_SHA


def test_download_with_checksum(local_server, tmp_path: Path) -> None:
    local_server.serve("/files/data.zip", PAYLOAD)
    destination = tmp_path / "downloads" / "data.zip"
    result = download(local_server.url("/files/data.zip"), destination, sha256=PAYLOAD_SHA)
    assert result == destination
    assert destination.read_bytes() == PAYLOAD
    assert sorted(p.name for p in destination.parent.iterdir()) == ["data.zip"]
    assert [r.path for r in local_server.requests] == ["/files/data.zip"]


def test_uppercase_checksum_is_accepted(local_server, tmp_path: Path) -> None:
    local_server.serve("/a", PAYLOAD)
    destination = tmp_path / "a.zip"
    download(local_server.url("/a"), destination, sha256=PAYLOAD_SHA.upper())
    assert destination.read_bytes() == PAYLOAD


def test_download_without_checksum(local_server, tmp_path: Path) -> None:
    local_server.serve("/a", b"")
    destination = tmp_path / "a.zip"
    download(local_server.url("/a"), destination, sha256=None)
    assert destination.read_bytes() == b""


def test_wrong_checksum_leaves_no_file(local_server, tmp_path: Path) -> None:
    local_server.serve("/a", PAYLOAD)
    folder = tmp_path / "downloads"
    wrong = "0" * 64
    with pytest.raises(UserError, match="checksum mismatch") as caught:
        download(local_server.url("/a"), folder / "a.zip", sha256=wrong)
    assert wrong in str(caught.value) and PAYLOAD_SHA in str(caught.value)
    assert list(folder.iterdir()) == []  # not even a temporary .part- file


def test_wrong_checksum_keeps_a_previous_file(local_server, tmp_path: Path) -> None:
    local_server.serve("/a", PAYLOAD)
    destination = tmp_path / "a.zip"
    destination.write_bytes(b"older download")
    with pytest.raises(UserError, match="checksum mismatch"):
        download(local_server.url("/a"), destination, sha256="1" * 64)
    assert destination.read_bytes() == b"older download"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip"]


def test_http_404(local_server, tmp_path: Path) -> None:
    destination = tmp_path / "downloads" / "a.zip"
    with pytest.raises(UserError, match="the server answered HTTP 404"):
        download(local_server.url("/missing.zip"), destination, sha256=PAYLOAD_SHA)
    assert list(destination.parent.iterdir()) == []


def test_http_500(local_server, tmp_path: Path) -> None:
    local_server.serve("/a", b"oops", status=500)
    with pytest.raises(UserError, match="HTTP 500"):
        download(local_server.url("/a"), tmp_path / "a.zip", sha256=None)
    assert list(tmp_path.iterdir()) == []


def test_status_hints_replace_the_message(local_server, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"^go and look elsewhere$"):
        download(
            local_server.url("/gone"),
            tmp_path / "a.zip",
            sha256=None,
            status_hints={404: "go and look elsewhere"},
        )


def test_redirects_are_followed(local_server, tmp_path: Path) -> None:
    local_server.serve("/old", b"", status=302, headers={"Location": "/new"})
    local_server.serve("/new", PAYLOAD)
    destination = tmp_path / "a.zip"
    download(local_server.url("/old"), destination, sha256=PAYLOAD_SHA)
    assert destination.read_bytes() == PAYLOAD


def test_connection_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UserError, match="could not connect"):
        download(f"http://127.0.0.1:{port}/a.zip", tmp_path / "a.zip", sha256=None)
    assert list(tmp_path.iterdir()) == []


def test_matching_file_is_reused(
    local_server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local_server.serve("/a", PAYLOAD)
    destination = tmp_path / "a.zip"
    download(local_server.url("/a"), destination, sha256=PAYLOAD_SHA)
    assert len(local_server.requests) == 1
    before = destination.stat().st_mtime_ns
    capsys.readouterr()
    assert download(local_server.url("/a"), destination, sha256=PAYLOAD_SHA) == destination
    assert len(local_server.requests) == 1  # no second request
    assert destination.stat().st_mtime_ns == before
    assert "already downloaded, checksum matches" in capsys.readouterr().out


def test_mismatching_file_is_downloaded_again(local_server, tmp_path: Path) -> None:
    local_server.serve("/a", PAYLOAD)
    destination = tmp_path / "a.zip"
    destination.write_bytes(b"a damaged earlier download")
    download(local_server.url("/a"), destination, sha256=PAYLOAD_SHA)
    assert destination.read_bytes() == PAYLOAD
    assert len(local_server.requests) == 1


def test_without_checksum_nothing_is_reused(local_server, tmp_path: Path) -> None:
    local_server.serve("/a", PAYLOAD)
    destination = tmp_path / "a.zip"
    download(local_server.url("/a"), destination, sha256=None)
    download(local_server.url("/a"), destination, sha256=None)
    assert len(local_server.requests) == 2
