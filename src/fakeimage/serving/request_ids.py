"""Request ids that the service can recognise as its own, bound to the image it answered.

A report to /feedback names an answer by its request id. Checked only for shape, any made-up
id (or a typo) would be kept, and a consented image could be any image at all under any id,
while reported images become training and gate data. So an id is signed:

    8 hex of nonce | 8 hex of HMAC(key, nonce) | 16 hex of HMAC(key, nonce + sha256(image))

The first tag proves the id was issued here (a forgery has a 1 in 4 billion chance), the
second that a reported image is byte for byte the one answered. Nothing is stored per answer;
the key is kept in the feedback folder, created once by whichever worker comes first, so
every worker of a deployment (and the next start) recognises the others' ids.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
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
        return nonce + self._tag(nonce.encode())[:8] + self._tag(nonce.encode() + digest)

    def issued(self, request_id: str) -> bool:
        """Whether the id was issued with this key (its shape is checked by the caller)."""
        nonce, tag = request_id[:8], request_id[8:16]
        return hmac.compare_digest(tag, self._tag(nonce.encode())[:8])

    def answered(self, request_id: str, digest: bytes) -> bool:
        """Whether the image with sha256 `digest` is exactly the one answered under this id."""
        nonce, tag = request_id[:8], request_id[16:]
        return hmac.compare_digest(tag, self._tag(nonce.encode() + digest))

    def _tag(self, message: bytes) -> str:
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:16]


def image_digest(data: bytes) -> bytes:
    """What an id is bound to: the sha256 of the file's bytes as uploaded."""
    return hashlib.sha256(data).digest()


def shared_key(folder: Path) -> bytes:
    """The folder's key, created if absent: written whole under a temporary name, then linked
    into place, which fails if another worker got there first (then its key is read)."""
    path = folder / KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"{KEY_FILE}.{os.getpid()}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(_KEY_BYTES))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    key = path.read_bytes()
    if len(key) != _KEY_BYTES:
        raise ValueError(f"{path} is not a request-id key (delete it and restart the service)")
    return key
