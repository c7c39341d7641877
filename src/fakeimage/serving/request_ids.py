"""Request ids that the service can recognise as its own, bound to the image it answered.

A report to /feedback names an answer by its request id. Checked only for shape, any made-up
id (or a typo) would be kept, and a consented image could be any image at all under any id,
while reported images become training and gate data. So an id is signed:

    nonce (8 hex) | id tag (8 hex) | image tag (16 hex)
    image tag = HMAC(key, nonce + sha256(image)); id tag = HMAC(key, nonce + image tag)

The id tag covers the whole id, so it proves the id was issued here (a made-up or altered id
passes with a 1 in 4 billion chance); the image tag, that a reported image is byte for byte
the one answered. Nothing is stored per answer; the key is kept in the feedback folder,
created once by whichever worker comes first, so every worker of a deployment (and the next
start) recognises the others' ids.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

logger = logging.getLogger("bentoml.fakeimage")

KEY_FILE = ".request-id-key"
_KEY_BYTES = 32


class RequestIds:
    """Issues and checks signed request ids with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_folder(cls, folder: Path | None) -> RequestIds:
        """The ids of a deployment whose feedback lands in `folder`; without one (or with a
        folder that cannot hold the key), a key of this process only."""
        if folder is not None:
            try:
                return cls(shared_key(folder))
            except (OSError, ValueError) as exc:
                logger.warning("request ids: %s; this worker signs with its own key", exc)
        return cls(secrets.token_bytes(_KEY_BYTES))

    def issue(self, digest: bytes) -> str:
        """A new id for the answer to the image whose sha256 is `digest`."""
        nonce = secrets.token_hex(4)
        image_tag = self._tag(nonce.encode() + digest)
        return nonce + self._tag((nonce + image_tag).encode())[:8] + image_tag

    def issued(self, request_id: str) -> bool:
        """Whether the id was issued with this key (its shape is checked by the caller)."""
        nonce, id_tag, image_tag = request_id[:8], request_id[8:16], request_id[16:]
        return hmac.compare_digest(id_tag, self._tag((nonce + image_tag).encode())[:8])

    def answered(self, request_id: str, digest: bytes) -> bool:
        """Whether the image with sha256 `digest` is exactly the one answered under this id."""
        nonce, image_tag = request_id[:8], request_id[16:]
        return hmac.compare_digest(image_tag, self._tag(nonce.encode() + digest))

    def _tag(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:16]


def image_digest(data: bytes) -> bytes:
    """What an id is bound to: the sha256 of the file's bytes as uploaded."""
    return hashlib.sha256(data).digest()


def shared_key(folder: Path) -> bytes:
    """The folder's key, created if absent: written whole under a temporary name, then linked
    into place, which fails if another worker got there first (then its key is read). Where
    the file system cannot link, the key is created exclusively in place instead."""
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(_KEY_BYTES)
        descriptor, temporary = tempfile.mkstemp(prefix=f"{KEY_FILE}.", dir=folder)
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp: readable by the service only
            handle.write(key)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:  # no hard links here (some network file systems)
            _create_exclusively(path, key)
        finally:
            os.unlink(temporary)
    return _read_key(path)


def _create_exclusively(path: Path, key: bytes) -> None:
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)


def _read_key(path: Path, wait_s: float = 2.0) -> bytes:
    """The key, waiting a moment for a worker that created it in place to finish writing."""
    deadline = time.monotonic() + wait_s
    while len(key := path.read_bytes()) < _KEY_BYTES and time.monotonic() < deadline:
        time.sleep(0.02)
    if len(key) != _KEY_BYTES:
        raise ValueError(f"{path} is not a request-id key (delete it and restart the service)")
    return key
