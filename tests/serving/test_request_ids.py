"""Signed request ids: issued here, bound to the answered image, shared by a deployment."""

import multiprocessing
from pathlib import Path

import pytest

from fakeimage.serving import request_ids
from fakeimage.serving.request_ids import KEY_FILE, RequestIds, image_digest, shared_key

IMAGE = image_digest(b"the uploaded file")


def test_an_issued_id_is_recognised_and_bound_to_its_image(tmp_path: Path) -> None:
    ids = RequestIds.for_folder(tmp_path)
    request_id = ids.issue(IMAGE)

    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert ids.issued(request_id) and ids.answered(request_id, IMAGE)
    assert not ids.answered(request_id, image_digest(b"the uploaded file, re-saved"))
    assert ids.issue(IMAGE) != request_id  # a fresh nonce each answer


def test_ids_not_issued_with_the_key_are_refused(tmp_path: Path) -> None:
    ids = RequestIds.for_folder(tmp_path / "here")
    elsewhere = RequestIds.for_folder(tmp_path / "elsewhere").issue(IMAGE)
    request_id = ids.issue(IMAGE)
    flipped = request_id[:3] + format(int(request_id[3], 16) ^ 1, "x") + request_id[4:]

    assert not ids.issued(elsewhere)
    assert not ids.issued(flipped)
    assert not ids.issued("0" * 32)
    for position in (20, 31):  # the id tag covers the image tag too: no variant passes
        changed = request_id[:position] + format(int(request_id[position], 16) ^ 1, "x")
        assert not ids.issued(changed + request_id[position + 1 :])


def _key_of(folder: str, queue: multiprocessing.Queue) -> None:
    queue.put(shared_key(Path(folder)))


def test_workers_starting_together_share_one_key_that_survives_a_restart(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_key_of, args=(str(tmp_path), queue)) for _ in range(4)]
    for worker in workers:
        worker.start()
    keys = {queue.get(timeout=120) for _ in workers}
    for worker in workers:
        worker.join(timeout=120)

    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary left behind
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0  # readable by the service only
    restarted = RequestIds.for_folder(tmp_path)
    assert restarted.issued(RequestIds(keys.pop()).issue(IMAGE))


def test_a_worker_that_loses_the_race_takes_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = bytes(range(32))

    def beaten(source: str, target: Path) -> None:  # another worker links its key first
        Path(target).write_bytes(winner)
        raise FileExistsError(target)

    monkeypatch.setattr(request_ids.os, "link", beaten)

    assert shared_key(tmp_path) == winner
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]


def test_without_hard_links_the_key_is_created_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(source: str, target: Path) -> None:
        raise PermissionError("hard links are not supported here")

    monkeypatch.setattr(request_ids.os, "link", unsupported)

    key = shared_key(tmp_path)

    assert len(key) == 32 and (tmp_path / KEY_FILE).read_bytes() == key
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o077 == 0
    assert shared_key(tmp_path) == key  # read back, not made again


def test_a_folder_that_cannot_hold_the_key_still_gives_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")

    ids = RequestIds.for_folder(tmp_path)

    assert ids.issued(ids.issue(IMAGE))
    assert "delete it and restart the service" in caplog.text
    assert (tmp_path / KEY_FILE).read_bytes() == b"short"  # an operator's file is not replaced
