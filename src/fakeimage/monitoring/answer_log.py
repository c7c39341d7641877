"""The answer log: every answer the service gives, one JSON line each, in rotated files.

Bounded three ways: a file is closed once it would pass `file_bytes` (or is a day old);
closed files older than the retention are deleted at each rotation; and the oldest closed
files go whenever the folder would pass `total_bytes` (which leaves room for the open file, so
the folder never exceeds it; a record longer than a file is not logged).
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger("bentoml.fakeimage")

PREFIX = "answers-"
DAY = 86400.0
"""The open file is also closed after a day, so that retention can delete old answers."""
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
        self._opened = 0.0
        self._failing = False

    def append(self, record: dict[str, Any]) -> bool:
        """Write one answer; False (and a log line the first time) if the folder refuses it,
        or if the record cannot be a line of the log (not JSON, or longer than a file)."""
        try:
            line = (json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n").encode()
        except (TypeError, ValueError) as exc:
            logger.warning("answer log: an answer was not logged (%s)", exc)
            return False
        if len(line) > self.file_bytes:
            logger.warning("answer log: an answer of %d bytes exceeds a file", len(line))
            return False
        with self._lock:
            now = time.monotonic()
            if self._failing and now < self._retry_at:
                return False
            try:
                stale = now - self._opened > min(DAY, self.retention_s)
                if self._handle is None or stale or self._size + len(line) > self.file_bytes:
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
        self._opened = time.monotonic()

    def _prune(self) -> None:
        """Delete files past the retention, then the oldest until a new file fits the bound."""
        now = time.time()
        files = sorted(_stats(log_files(self.folder)), key=lambda f: (f[1].st_mtime, f[0].name))
        kept = []
        for path, stat in files:
            if now - stat.st_mtime > self.retention_s:
                path.unlink(missing_ok=True)
            else:
                kept.append((path, stat.st_size))
        total = sum(size for _, size in kept)
        while kept and total > self.total_bytes - self.file_bytes:
            oldest, size = kept.pop(0)
            total -= size
            oldest.unlink(missing_ok=True)


def log_files(folder: Path) -> list[Path]:
    """The log's files (any process's), unordered."""
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.startswith(PREFIX) and p.name.endswith(SUFFIX)]


def read_answers(
    folder: Path, *, last: int | None = None, keep: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """The logged answers (those `keep` accepts) in time order, the `last` ones if given: the
    newest files are read first, and only as many as that takes. Unreadable lines (a file cut
    by a crash mid-line) and files rotated away meanwhile are skipped."""
    newest_first = sorted(_stats(log_files(folder)), key=lambda f: -f[1].st_mtime)
    answers: list[dict[str, Any]] = []
    for path, _ in newest_first:
        answers += [r for r in _records(path) if keep is None or keep(r)]
        if last and len(answers) >= last:
            break
    answers.sort(key=lambda record: record.get("time", ""))
    return answers[-last:] if last else answers


def _records(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        return
    for line in lines:
        try:
            yield json.loads(line)
        except ValueError:
            continue


def _stats(paths: list[Path]) -> list[tuple[Path, os.stat_result]]:
    """Each path with its stat, leaving out files another process deleted meanwhile."""
    found = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            found.append((path, path.stat()))
    return found
