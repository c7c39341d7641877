"""Kaggle's REST API is imitated by a local server; everything above the network is real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakeimage.config import DataParams, KaggleSource
from fakeimage.data.sources import fetch
from fakeimage.data.sources.kaggle import download_kaggle_dataset, kaggle_credentials
from fakeimage.errors import UserError

pytestmark = pytest.mark.timeout(60)

DATASET = "birdy654/cifake-real-and-ai-generated-synthetic-images"
DOWNLOAD_PATH = f"/api/v1/datasets/download/{DATASET}"
USER, KEY = "alice", "s3cret-key"


@pytest.fixture
def no_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME without kaggle.json and no Kaggle variables; returns that HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def cifake_zip(tmp_path: Path, write_cifake, pack) -> Path:
    """A small zip in Kaggle's CIFAKE layout: train/{REAL,FAKE} and test/{REAL,FAKE}."""
    counts = {"train/REAL": 4, "train/FAKE": 4, "test/REAL": 2, "test/FAKE": 2}
    write_cifake(tmp_path / "cifake-src", counts, fmt="JPEG")
    return pack(tmp_path / "cifake-src", tmp_path / "served" / "cifake.zip")


@pytest.fixture
def kaggle_api(local_server, cifake_zip: Path, monkeypatch: pytest.MonkeyPatch):
    """The local server answering Kaggle's download endpoint for USER/KEY only."""
    local_server.serve(DOWNLOAD_PATH, cifake_zip.read_bytes(), auth=(USER, KEY))
    monkeypatch.setenv("FAKEIMAGE_KAGGLE_API", local_server.url("/api/v1"))
    return local_server


def _write_token(folder: Path, username: str = USER, key: str = KEY) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kaggle.json"
    path.write_text(json.dumps({"username": username, "key": key}))
    return path


# --- credentials ---------------------------------------------------------------------------


def test_credentials_from_the_environment(
    no_credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_token(no_credentials / ".kaggle", "file-user", "file-key")
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    assert kaggle_credentials() == (USER, KEY)  # the environment wins over the file


def test_credentials_from_kaggle_config_dir(
    no_credentials: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_token(no_credentials / ".kaggle", "home-user", "home-key")
    _write_token(tmp_path / "config")
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "config"))
    assert kaggle_credentials() == (USER, KEY)


@pytest.mark.parametrize("where", [".kaggle", ".config/kaggle"])
def test_credentials_from_home(no_credentials: Path, where: str) -> None:
    _write_token(no_credentials / where)
    assert kaggle_credentials() == (USER, KEY)


def test_half_the_environment_falls_back_to_the_file(
    no_credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_token(no_credentials / ".kaggle")
    monkeypatch.setenv("KAGGLE_USERNAME", "someone-else")
    assert kaggle_credentials() == (USER, KEY)


def test_missing_credentials_say_how_to_provide_them(no_credentials: Path) -> None:
    with pytest.raises(UserError) as caught:
        kaggle_credentials()
    message = str(caught.value)
    assert message.startswith("Kaggle credentials not found")
    assert "KAGGLE_USERNAME" in message and "KAGGLE_KEY" in message
    assert "~/.kaggle/kaggle.json" in message


@pytest.mark.parametrize("content", ["not json", "[]", '{"username": "alice"}', '"just a string"'])
def test_invalid_token_file(no_credentials: Path, content: str) -> None:
    (no_credentials / ".kaggle").mkdir()
    (no_credentials / ".kaggle" / "kaggle.json").write_text(content)
    with pytest.raises(UserError, match="is not a valid Kaggle token: set KAGGLE_USERNAME"):
        kaggle_credentials()


# --- download ------------------------------------------------------------------------------


def test_download_sends_basic_auth(
    kaggle_api, cifake_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    destination = tmp_path / "downloads" / "cifake.zip"
    assert download_kaggle_dataset(DATASET, destination, sha256=None) == destination
    assert destination.read_bytes() == cifake_zip.read_bytes()
    (request,) = kaggle_api.requests
    assert request.path == DOWNLOAD_PATH
    assert request.headers["Authorization"].startswith("Basic ")


def test_download_with_kaggle_json(
    kaggle_api, no_credentials: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_token(tmp_path / "config")
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "config"))
    destination = tmp_path / "cifake.zip"
    download_kaggle_dataset(DATASET, destination, sha256=None)
    assert destination.is_file()


def test_redirect_to_storage_is_followed(
    local_server, cifake_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kaggle answers the download with a redirect to a signed storage URL."""
    local_server.serve(
        DOWNLOAD_PATH, b"", status=302, headers={"Location": "/storage/x.zip"}, auth=(USER, KEY)
    )
    local_server.serve("/storage/x.zip", cifake_zip.read_bytes())
    monkeypatch.setenv("FAKEIMAGE_KAGGLE_API", local_server.url("/api/v1/"))
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    destination = tmp_path / "cifake.zip"
    download_kaggle_dataset(DATASET, destination, sha256=None)
    assert destination.read_bytes() == cifake_zip.read_bytes()
    assert [r.path for r in local_server.requests] == [DOWNLOAD_PATH, "/storage/x.zip"]


def test_rejected_credentials(kaggle_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", "wrong-key")
    with pytest.raises(UserError) as caught:
        download_kaggle_dataset(DATASET, tmp_path / "d" / "cifake.zip", sha256=None)
    message = str(caught.value)
    assert "rejected the credentials (HTTP 401)" in message
    assert "KAGGLE_USERNAME" in message
    assert list((tmp_path / "d").iterdir()) == []


def test_unknown_dataset(kaggle_api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    with pytest.raises(UserError, match=r"no dataset 'someone/nothing' \(HTTP 404\)"):
        download_kaggle_dataset("someone/nothing", tmp_path / "x.zip", sha256=None)


def test_forbidden_dataset(local_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local_server.serve(DOWNLOAD_PATH, b"", status=403)
    monkeypatch.setenv("FAKEIMAGE_KAGGLE_API", local_server.url("/api/v1"))
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    with pytest.raises(UserError, match=r"HTTP 403.*accept its terms"):
        download_kaggle_dataset(DATASET, tmp_path / "x.zip", sha256=None)


@pytest.mark.parametrize("dataset", ["cifake", "a/b/c", "/name", "owner/"])
def test_dataset_name_must_be_owner_slash_name(dataset: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="must look like 'owner/name'"):
        download_kaggle_dataset(dataset, tmp_path / "x.zip", sha256=None)


def test_missing_credentials_make_no_request(
    kaggle_api, no_credentials: Path, tmp_path: Path
) -> None:
    with pytest.raises(UserError, match="Kaggle credentials not found"):
        download_kaggle_dataset(DATASET, tmp_path / "x.zip", sha256=None)
    assert kaggle_api.requests == []


# --- the whole fetch -----------------------------------------------------------------------


def test_fetch_from_kaggle(
    kaggle_api, cifake_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    params = DataParams(source=KaggleSource(dataset=DATASET))
    raw, downloads = tmp_path / "data" / "raw", tmp_path / "data" / "downloads"
    counts = fetch(params, raw, downloads)
    assert counts == {"test/FAKE": 2, "test/REAL": 2, "train/FAKE": 4, "train/REAL": 4}
    assert sorted(p.name for p in (raw / "train" / "REAL").iterdir()) == [
        f"{i:03d}.jpg" for i in range(4)
    ]
    assert (downloads / f"{DATASET.replace('/', '__')}.zip").read_bytes() == (
        cifake_zip.read_bytes()
    )
    assert sorted(p.name for p in raw.parent.iterdir()) == ["downloads", "raw"]


def test_fetch_from_kaggle_reuses_a_verified_download(
    kaggle_api, cifake_zip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakeimage.data.sources.download import sha256_of

    monkeypatch.setenv("KAGGLE_USERNAME", USER)
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    params = DataParams(source=KaggleSource(dataset=DATASET, sha256=sha256_of(cifake_zip)))
    raw, downloads = tmp_path / "raw", tmp_path / "downloads"
    first = fetch(params, raw, downloads)
    assert fetch(params, raw, downloads) == first
    assert len(kaggle_api.requests) == 1
