"""Running the service as a child process: what the HTTP tests, the page test and the
benchmark share.

The service starts as `make serve` starts it: `fakeimage serve` stores the model folder in
BentoML's store (under the BENTOML_HOME given) and then becomes `bentoml serve ... --arg
model_tag=TAG` in the same process; a Bento or another service is served by `bentoml serve`.

`bentoml serve` starts an arbiter whose workers run in sessions of their own, so stopping it
means collecting the whole process tree first, then SIGTERM to the group and SIGKILL, by id,
to whatever outlives the grace period. Nothing is left behind, even when a worker hangs.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from fakeimage import QUIET_ENVIRONMENT
from fakeimage.serving.launch import SERVICE

BIN = Path(sys.executable).parent


@dataclass
class ServiceProcess:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answered(self, **labels: str) -> list[str]:
        """The /metrics request counters with all of `labels` that counted any request,
        e.g. answered(endpoint="/explain") or answered(http_response_code="500")."""
        status, body = self.get("/metrics")
        assert status == 200, status
        wanted = [f'{name}="{value}"' for name, value in labels.items()]
        return [
            line
            for line in body.decode().splitlines()
            if line.startswith("bentoml_service_request_total")
            and all(label in line for label in wanted)
            and not line.rstrip().endswith(" 0.0")
        ]

    def get(self, path: str, timeout_s: float = 10.0) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout_s)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def tree_rss_mb(self) -> float:
        """Resident memory of the server and all its workers, in MiB."""
        total = 0
        for member in process_tree(self.process.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += member.memory_info().rss
        return total / 2**20


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_process_tree(process: subprocess.Popen[bytes], grace_s: float = 30.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever of the tree is still alive."""
    tree = process_tree(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for leftover in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            leftover.kill()
    psutil.wait_procs(alive, timeout=10)
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


@contextlib.contextmanager
def run_service(
    home: Path,
    *,
    model: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    start_timeout_s: float = 240.0,
    target: str = SERVICE,
) -> Iterator[ServiceProcess]:
    """Serve on a free loopback port until the block ends; yields once /readyz answers 200.

    home becomes BENTOML_HOME and holds the server's log and model store; model, if given, is
    the folder `fakeimage serve --model` serves (default: the champion of cwd, else the
    reference); target is the service's import path (served by `fakeimage serve`), or what
    `bentoml serve` serves instead: a Bento's tag, another service.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    environment = {**os.environ, **QUIET_ENVIRONMENT, "BENTOML_HOME": str(home)}
    environment["FAKEIMAGE_LOG_DIR"] = str(home / "answers")
    environment["FAKEIMAGE_FEEDBACK_DIR"] = str(home / "feedback")
    environment.update(env or {})
    address = ["--host", "127.0.0.1", "--port", str(port)]
    if target == SERVICE:
        command = [str(BIN / "fakeimage"), "serve", *address]
        command += ["--model", str(model)] if model is not None else []
    elif model is None:
        command = [str(BIN / "bentoml"), "serve", target, *address]
    else:
        raise ValueError(f"a model folder is served by `fakeimage serve`, not with {target}")
    log = home / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ServiceProcess(port, process, log)
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the service exited ({process.returncode}):\n{server.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service was not ready in {start_timeout_s:.0f} s")
            with contextlib.suppress(OSError):
                if server.get("/readyz", timeout_s=2)[0] == 200:
                    break
            time.sleep(0.25)
        yield server
    finally:
        stop_process_tree(process)


def _log_tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until_up(
    url: str, process: subprocess.Popen, log: Path, timeout_s: float, what: str
) -> None:
    """Poll GET url until it answers 200; fail with the log's tail if it dies or times out."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{_log_tail(log)}")
        try:
            with opener.open(url, timeout=5) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.5)
    pytest.fail(f"{what} not ready at {url} after {timeout_s} s ({last}):\n{_log_tail(log)}")
