"""How close /predict is to its floor, three figures measured in one run:

(i) /predict p50 of the real service with one client;
(ii) p50 of a bare BentoML service with the same upload type and no model
     (`benchmarks.bare_service`), started the same way: what BentoML itself costs;
(iii) the raw ONNX forward pass of the served model on one image with one thread (as the API
      process scores single images).

The ratio (i) / ((ii) + (iii)) is what the service's own work adds (decoding, checks, the
answer); target at most 1.15. A 2-core machine's speed drifts, so the three are measured in
interleaved rounds and each figure is the median of its rounds.

(iii) runs back to back, with the model hot in the caches. A server with one client is idle
between requests, and on a virtual machine the same forward pass after an idle pause of a
couple of milliseconds takes 25-40% longer; the row shows that figure too ("after idle"),
the floor a request can actually reach, and the ratio against it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.load import Request, run_load
from tests.service_process import ServiceProcess

BARE_SERVICE = "benchmarks.bare_service:BareUpload"
TARGET_RATIO = 1.15
IDLE_S = 0.002
"""The pause before each "after idle" forward pass: about a client's turn between requests."""


@dataclass(frozen=True)
class Floor:
    service_ms: float
    bare_ms: float
    forward_ms: float
    idle_forward_ms: float = float("nan")

    @property
    def ratio(self) -> float:
        return self.service_ms / (self.bare_ms + self.forward_ms)

    @property
    def idle_ratio(self) -> float:
        return self.service_ms / (self.bare_ms + self.idle_forward_ms)

    def describe(self) -> str:
        return (
            f"(i) /predict p50 {self.service_ms:.3f} ms; (ii) bare BentoML upload service p50 "
            f"{self.bare_ms:.3f} ms; (iii) ONNX forward, 1 image, 1 thread "
            f"{self.forward_ms:.3f} ms; (i)/((ii)+(iii)) = {self.ratio:.3f} "
            f"[after idle: (iii) {self.idle_forward_ms:.3f} ms, ratio {self.idle_ratio:.3f}]"
        )


def one_thread_session(folder: Path) -> Any:
    """The served model's ONNX Runtime session with one intra-op thread."""
    from fakeimage.detector.onnx_runtime import load_onnx_detector

    return load_onnx_detector(folder, threads=1).session


def forward_ms(session: Any, pixels: np.ndarray, calls: int, idle_s: float = 0.0) -> float:
    """Median time of one ONNX Runtime call on one image, each after `idle_s` of sleep."""
    name = session.get_inputs()[0].name
    one = {name: np.ascontiguousarray(pixels[:1], dtype=np.uint8)}
    for _ in range(50):
        session.run(None, one)
    times = []
    for _ in range(calls):
        if idle_s:
            time.sleep(idle_s)
        started = time.perf_counter()
        session.run(None, one)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def p50_ms(port: int, requests: list[Request], count: int) -> float:
    result = run_load(port, requests, clients=1, max_requests=count, max_seconds=120)
    if result.errors:
        raise RuntimeError(f"{len(result.errors)} errors, e.g. {result.errors[0]}")
    return result.percentile(50)


def measure_floor(
    server: ServiceProcess,
    bare: ServiceProcess,
    singles: list[Request],
    folder: Path,
    pixels: np.ndarray,
    *,
    rounds: int = 5,
    requests: int = 400,
) -> Floor:
    """Interleaved rounds of (i), (ii) and (iii) after a warm-up of both servers."""
    for port in (server.port, bare.port):
        run_load(port, singles, clients=1, max_requests=300, max_seconds=30)
    session = one_thread_session(folder)
    measured: list[tuple[float, float, float, float]] = []
    for _ in range(rounds):
        measured.append(
            (
                p50_ms(server.port, singles, requests),
                p50_ms(bare.port, singles, requests),
                forward_ms(session, pixels, requests),
                forward_ms(session, pixels, requests // 4, idle_s=IDLE_S),
            )
        )
    return Floor(*(statistics.median(column) for column in zip(*measured, strict=True)))
