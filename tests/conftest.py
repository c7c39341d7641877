"""Shared fixtures: a local HTTP server, small CIFAKE-layout folders and archives, and the one
run of the whole pipeline that the integration tests share.

Everything but the pipeline run is small and synthetic; tests that read real data find it in
../shared/data themselves (repo_copy.SAMPLE).
"""

from __future__ import annotations

import io
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock
from PIL import Image

from repo_copy import PipelineRun, run_embedded_pipeline
from tests.local_http import LocalServer

SHARED_PIPELINE = "embedded_pipeline"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the files so the longest work goes first (make test hands them out in this order:
    pytest-xdist's --no-loadscope-reorder), each file's tests staying as written. Then no
    worker idles at the end while another runs a long file, and none waits for the shared run:

    0: the file that runs the shared pipeline (the one using it most); 1: files holding slow
    tests; 2: the shared pipeline's other users, which a worker takes only once the slow files
    have kept it busy for about as long as that run takes; 3: the rest, quick and many.
    """
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    uses = {
        path: sum(SHARED_PIPELINE in getattr(item, "fixturenames", ()) for item in module)
        for path, module in modules.items()
    }
    first_user = max(uses, key=lambda path: uses[path], default="")

    def rank(path: str) -> int:
        if uses[path]:
            return 0 if path == first_user else 2
        return 1 if any(item.get_closest_marker("slow") for item in modules[path]) else 3

    items[:] = [item for path in sorted(modules, key=rank) for item in modules[path]]


@pytest.fixture
def local_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    """A running LocalServer, shut down after the test; proxies are bypassed for loopback."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = LocalServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _image_bytes(rng: np.random.Generator, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), "RGB").save(buffer, fmt)
    return buffer.getvalue()


WriteCifake = Callable[..., dict[str, list[Path]]]


@pytest.fixture
def write_cifake() -> WriteCifake:
    """Factory: write_cifake(root, {"train/REAL": 3, ...}, seed=0, fmt="PNG").

    Writes that many distinct 32x32 random images per folder (names 000.png, 001.png, ...;
    content depends on seed, folder and index) and returns the paths per folder.
    """

    def write(
        root: Path, counts: dict[str, int], *, seed: int = 0, fmt: str = "PNG"
    ) -> dict[str, list[Path]]:
        suffix = {"PNG": ".png", "JPEG": ".jpg", "BMP": ".bmp"}[fmt]
        written: dict[str, list[Path]] = {}
        for folder_index, (folder, count) in enumerate(counts.items()):
            directory = root / folder
            directory.mkdir(parents=True, exist_ok=True)
            paths = []
            for index in range(count):
                rng = np.random.default_rng([seed, folder_index, index])
                path = directory / f"{index:03d}{suffix}"
                path.write_bytes(_image_bytes(rng, fmt))
                paths.append(path)
            written[folder] = paths
        return written

    return write


Pack = Callable[[Path, Path], Path]


@pytest.fixture
def pack() -> Pack:
    """Factory: pack(folder, archive) stores folder's files in a .zip, .tar or .tar.gz archive.

    Member names are relative to folder, with forward slashes; returns the archive path.
    """

    def build(folder: Path, archive: Path) -> Path:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        archive.parent.mkdir(parents=True, exist_ok=True)
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive, "w") as handle:
                for path in files:
                    handle.write(path, path.relative_to(folder).as_posix())
        else:
            mode = "w:gz" if archive.name.endswith(".gz") else "w"
            with tarfile.open(archive, mode) as handle:
                for path in files:
                    handle.add(path, path.relative_to(folder).as_posix())
        return archive

    return build


@pytest.fixture(scope="session")
def embedded_pipeline(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> PipelineRun:
    """`dvc repro` on the embedded data, once per test run (about two minutes).

    Under pytest-xdist every worker has its own session: the first to get here runs the
    pipeline under a file lock in the directory the workers share, the others wait for it
    and read where it is (the pattern pytest-xdist documents for shared session data).
    """
    if worker_id == "master":  # one process: nothing to share
        root = tmp_path_factory.mktemp("embedded-pipeline")
        return run_embedded_pipeline(root, bentoml_home=root / "bentoml")
    shared = tmp_path_factory.getbasetemp().parent
    record = shared / "embedded-pipeline.json"
    with FileLock(str(record) + ".lock"):
        if record.is_file():
            return PipelineRun.from_json(record.read_text())
        root = shared / "embedded-pipeline"
        shutil.rmtree(root, ignore_errors=True)  # what a worker's failed attempt left
        root.mkdir()
        result = run_embedded_pipeline(root, bentoml_home=root / "bentoml")
        record.write_text(result.to_json())
        return result
