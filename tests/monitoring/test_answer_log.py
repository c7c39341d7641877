"""The answer log: rotated, bounded in size and age, and never in the way of an answer."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fakeimage.monitoring.answer_log import AnswerLog, log_files, read_answers


def _record(index: int) -> dict:
    return {"time": f"2026-12-07T00:00:{index:06.3f}", "request_id": f"{index:032x}", "x": "y" * 80}


def test_files_rotate_and_the_folder_never_passes_its_bound(tmp_path: Path) -> None:
    log = AnswerLog(tmp_path, file_bytes=1000, total_bytes=3000, retention_s=3600)
    sizes = []
    for index in range(200):
        assert log.append(_record(index))
        sizes.append(sum(p.stat().st_size for p in log_files(tmp_path)))
    log.close()
    assert max(sizes) <= 3000 and len(log_files(tmp_path)) >= 2
    assert all(p.stat().st_size <= 1000 for p in log_files(tmp_path))
    kept = read_answers(tmp_path)
    assert [r["request_id"] for r in kept] == [f"{i:032x}" for i in range(200 - len(kept), 200)]
    assert read_answers(tmp_path, last=5) == kept[-5:]


def test_files_past_the_retention_are_deleted(tmp_path: Path) -> None:
    old = tmp_path / "answers-20200101T000000Z-1-000001.jsonl"
    old.write_text('{"time": "2020"}\n')
    stale = time.time() - 10 * 86400
    os.utime(old, (stale, stale))
    log = AnswerLog(tmp_path, file_bytes=1000, total_bytes=3000, retention_s=86400)
    assert log.append(_record(1))
    assert not old.exists() and len(log_files(tmp_path)) == 1


def test_a_folder_that_cannot_be_written_is_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log folder should be")
    log = AnswerLog(
        blocker / "answers", file_bytes=1000, total_bytes=3000, retention_s=60, retry_s=0
    )
    with caplog.at_level(logging.WARNING, logger="bentoml.fakeimage"):
        assert [log.append(_record(i)) for i in range(5)] == [False] * 5
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "answers go on, unlogged" in errors[0].getMessage()
    blocker.unlink()  # the folder can be made again: logging resumes, and says so
    with caplog.at_level(logging.WARNING, logger="bentoml.fakeimage"):
        assert log.append(_record(9))
    assert "writing to" in caplog.records[-1].getMessage()


def test_a_full_disk_costs_no_answer(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse writes past 4 KiB, as a full disk would (EFBIG)."""
    script = textwrap.dedent(
        f"""
        import logging, resource, signal
        from pathlib import Path
        from fakeimage.monitoring.answer_log import AnswerLog
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        logging.basicConfig(level=logging.WARNING)
        log = AnswerLog(Path({str(tmp_path)!r}), file_bytes=1 << 20, total_bytes=2 << 20,
                        retention_s=60)
        results = [log.append({{"i": i, "pad": "x" * 200}}) for i in range(100)]
        print(results.count(True), results.count(False))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    written, refused = map(int, done.stdout.split())
    assert written > 0 and refused > 0 and written + refused == 100
    assert done.stderr.count("cannot write to") == 1 and "Traceback" not in done.stderr


def test_a_record_that_cannot_be_a_line_is_skipped_not_raised(tmp_path: Path) -> None:
    log = AnswerLog(tmp_path, file_bytes=200, total_bytes=400, retention_s=60)
    assert not log.append({"prob_fake": float("nan")})
    assert not log.append({"pad": "x" * 500})  # longer than a file: the bound holds
    assert log.append({"ok": 1})
    assert sum(p.stat().st_size for p in log_files(tmp_path)) <= 400
