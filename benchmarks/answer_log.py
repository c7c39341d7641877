"""What the answer log and the /metrics signals cost one answer, against /predict's p50.

The service logs and counts each answer in the request's own thread (`serving.monitor`), so
its cost adds to every answer's latency. Measured here in this process, per answer, writing to
a scratch log with the service's own record, beside the served /predict p50 of the same run.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from fakeimage.serving.monitor import Monitor
from fakeimage.serving.schemas import ModelInfo, build_prediction
from fakeimage.serving.settings import ServingSettings

TARGET = 0.05
"""At most 5% of single-image /predict p50."""


def observe_us(scratch: Path, answers: int = 3000) -> float:
    """Median microseconds for `Monitor.observe` of one answer (log line and counters)."""
    monitor = Monitor(ServingSettings(log_dir=scratch / "answers"), ModelInfo("m", "1", 0.5))
    rng = np.random.default_rng(0)
    shown = {"width": 32, "height": 32, "mode": "RGB", "format": "JPEG", "quality": 75}
    timings = []
    for _ in range(answers):
        answer = build_prediction(
            float(rng.random()),
            monitor.model,
            shown,
            [],
            distance=1.0,
            detail=1.0,
            request_id="0" * 32,
        )
        summary = rng.normal(size=(1, 8))
        started = time.perf_counter()
        monitor.observe("/predict", [answer], summary)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e6


def cost_line(scratch: Path, predict_p50_ms: float) -> tuple[str, bool]:
    """The row's text and whether it meets the target."""
    cost = observe_us(scratch)
    share = cost / 1000 / predict_p50_ms
    return (
        f"{cost:.0f} us per answer = {share:.1%} of /predict p50 ({predict_p50_ms:.2f} ms)",
        share <= TARGET,
    )
