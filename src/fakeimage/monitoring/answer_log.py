"""The answer log: every answer the service gives, one JSON line each, in rotated files.

Bounded three ways: a file is closed once it would pass `file_bytes`; closed files older
than the retention are deleted; and the oldest closed files go whenever the folder would
pass `total_bytes` (which leaves room for the open file, so the folder never exceeds it).
Logging must never cost an answer: a folder that cannot be written (full disk, no
permission) is reported once in the server log, the answers go out unlogged (not even tried
for `retry_s`, so a failing disk costs nothing), and writing resumes (reported again) once
the folder works again. No image bytes are ever written here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger("bentoml.fakeimage")

PREFIX = "answers-"
SUFFIX = ".jsonl"


class AnswerLog:
    """Append-only JSON lines under `folder`, rotated and bounded; `append` never raises."""

    def __init__(
        self,
        folder: Path,
        *,
        file_bytes: int,
        total_bytes: int,
        retention_s: float,
        retry_s: float = 60.0,
    ) -> None:
        if total_bytes < 2 * file_bytes:
            raise ValueError("the log's total bound must hold at least two files")
        self.folder = folder
        self.file_bytes = file_bytes
        self.total_bytes = total_bytes
        self.retention_s = retention_s
        self.retry_s = retry_s
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self._handle: IO[bytes] | None = None
        self._path: Path | None = None
        self._size = 0
        self._count = 0
        self._failing = False

    def append(self, record: dict[str, Any]) -> bool:
        """Write one answer; False (and a log line the first time) if the folder refuses it."""
        line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        with self._lock:
            if self._failing and time.monotonic() < self._retry_at:
                return False
            try:
                if self._handle is None or self._size + len(line) > self.file_bytes:
                    self._rotate()
                assert self._handle is not None
                self._handle.write(line)
                self._handle.flush()
                self._size += len(line)
            except OSError as exc:
                self._close()
                if not self._failing:
                    logger.error(
                        "answer log: cannot write to %s (%s); answers go on, unlogged",
                        self.folder,
                        exc.strerror or exc,
                    )
                self._failing = True
                self._retry_at = time.monotonic() + self.retry_s
                return False
            if self._failing:
                logger.warning("answer log: writing to %s again", self.folder)
                self._failing = False
            return True

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
        self._handle, self._path, self._size = None, None, 0

    def _rotate(self) -> None:
        self._close()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._prune()
        self._count += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self._path = self.folder / f"{PREFIX}{stamp}-{os.getpid()}-{self._count:06d}{SUFFIX}"
        self._handle = self._path.open("ab")

    def _prune(self) -> None:
        """Delete files past the retention, then the oldest until a new file fits the bound."""
        now = time.time()
        files = sorted(log_files(self.folder), key=lambda p: (p.stat().st_mtime, p.name))
        kept = []
        for path in files:
            if now - path.stat().st_mtime > self.retention_s:
                path.unlink(missing_ok=True)
            else:
                kept.append(path)
        total = sum(p.stat().st_size for p in kept)
        while kept and total > self.total_bytes - self.file_bytes:
            oldest = kept.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)


def log_files(folder: Path) -> list[Path]:
    """The log's files (any process's), unordered."""
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX)]


def read_answers(folder: Path, *, last: int | None = None) -> list[dict[str, Any]]:
    """The logged answers in time order (the `last` ones if given); unreadable lines (a file
    cut by a crash mid-line) are skipped."""
    answers = list(_records(sorted(log_files(folder), key=lambda p: p.name)))
    answers.sort(key=lambda record: record.get("time", ""))
    return answers[-last:] if last else answers


def _records(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        with path.open("rb") as handle:
            for line in handle:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
