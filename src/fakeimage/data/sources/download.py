"""Streaming downloads that never leave a half file: write to a temporary name, verify, rename."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

import requests
from tqdm import tqdm

from fakeimage.errors import UserError

_CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    destination: Path,
    *,
    sha256: str | None,
    auth: tuple[str, str] | None = None,
    timeout_s: float = 60.0,
    status_hints: dict[int, str] | None = None,
) -> Path:
    """Stream url into destination with a progress bar; return destination.

    The bytes go to a temporary file beside destination, which is renamed only once the
    download is complete and (when sha256 is given) its checksum matches. A destination that
    already exists with the expected checksum is reused without downloading.
    """
    if sha256 and destination.is_file() and sha256_of(destination) == sha256.lower():
        print(f"fetch: {destination.name} already downloaded, checksum matches", flush=True)
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".part-", dir=destination.parent)
    try:
        digest = hashlib.sha256()
        with os.fdopen(descriptor, "wb") as sink, _get(url, auth, timeout_s) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=f"fetch {destination.name}",
                file=sys.stderr,
                disable=None,
            ) as bar:
                for chunk in response.iter_content(_CHUNK):
                    sink.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        actual = digest.hexdigest()
        if sha256 and actual != sha256.lower():
            raise UserError(
                f"checksum mismatch for {url}: expected {sha256.lower()}, got {actual}; "
                "check data.source.sha256 in params.yaml or the URL"
            )
        os.replace(temporary, destination)
        return destination
    except requests.RequestException as exc:
        status = getattr(exc, "status", None)
        if status_hints and status in status_hints:
            raise UserError(status_hints[status]) from None
        raise UserError(f"download of {url} failed: {_reason(exc)}") from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def _get(url: str, auth: tuple[str, str] | None, timeout_s: float) -> requests.Response:
    response = requests.get(url, stream=True, auth=auth, timeout=timeout_s, allow_redirects=True)
    if response.status_code >= 400:
        response.close()
        raise _HttpStatusError(response.status_code, url)
    return response


class _HttpStatusError(requests.HTTPError):
    def __init__(self, status: int, url: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.url = url


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, _HttpStatusError):
        return f"the server answered HTTP {exc.status}"
    if isinstance(exc, requests.ConnectionError):
        return "could not connect (check the URL and your network)"
    if isinstance(exc, requests.Timeout):
        return "the server did not answer in time"
    return str(exc)
