"""What the service keeps about its answers: the answer log and the live signals on /metrics.

Prometheus series (beside BentoML's own):
- `fakeimage_answers_total{verdict, model_version}`: answers by verdict (REAL, FAKE, UNCERTAIN);
- `fakeimage_uncertain_total{reason}`: uncertain answers by reason (an answer may count under
  several), so `sum by (reason) (rate(fakeimage_uncertain_total[1h])) / ignoring(reason)
  group_left sum(rate(fakeimage_answers_total[1h]))` is the share uncertain for each reason;
- `fakeimage_prob_fake`: a histogram of calibrated P(fake) in twentieths;
- `fakeimage_model_info{name, version, threshold}`: 1 for the model being served.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import bentoml
import numpy as np

from fakeimage.monitoring.answer_log import AnswerLog
from fakeimage.serving.schemas import ModelInfo, Prediction
from fakeimage.serving.settings import MB, ServingSettings

ANSWERS = bentoml.metrics.Counter(
    name="fakeimage_answers",
    documentation="Answers by verdict (REAL, FAKE, UNCERTAIN) and model version",
    labelnames=["verdict", "model_version"],
)
UNCERTAIN = bentoml.metrics.Counter(
    name="fakeimage_uncertain",
    documentation="Uncertain answers by reason (one answer may have several)",
    labelnames=["reason"],
)
PROB_FAKE = bentoml.metrics.Histogram(
    name="fakeimage_prob_fake",
    documentation="Calibrated P(fake) of every answer",
    buckets=[round(0.05 * i, 2) for i in range(1, 20)] + [float("inf")],
)
MODEL = bentoml.metrics.Gauge(
    name="fakeimage_model_info",
    documentation="1 for the model being served",
    labelnames=["name", "version", "threshold"],
)


class Monitor:
    """Counts every answer on /metrics and appends it to the answer log (if configured)."""

    def __init__(self, settings: ServingSettings, model: ModelInfo) -> None:
        self.model = model
        self.log = None
        if settings.log_dir is not None:
            self.log = AnswerLog(
                settings.log_dir,
                file_bytes=int(settings.log_file_mb * MB),
                total_bytes=int(settings.log_total_mb * MB),
                retention_s=settings.log_retention_days * 86400,
            )
        MODEL.labels(
            name=model.name, version=model.version, threshold=f"{model.threshold:.4f}"
        ).set(1)

    def observe(self, endpoint: str, answers: Sequence[Prediction], summaries: np.ndarray) -> None:
        """Count and log answers; `summaries` (N, AXES) are their features' summary rows."""
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")
        for answer, summary in zip(answers, summaries, strict=True):
            verdict = "UNCERTAIN" if answer.uncertain else answer.label
            ANSWERS.labels(verdict=verdict, model_version=self.model.version).inc()
            for reason in answer.reasons:
                UNCERTAIN.labels(reason=reason.code).inc()
            PROB_FAKE.observe(answer.prob_fake)
            if self.log is not None:
                self.log.append(record(now, endpoint, answer, summary))


def record(time: str, endpoint: str, answer: Prediction, summary: np.ndarray) -> dict:
    """One answer as the log keeps it: no image, only what it was and what was said."""
    shown = answer.input
    return {
        "time": time,
        "request_id": answer.request_id,
        "endpoint": endpoint,
        "model": answer.model.name,
        "version": answer.model.version,
        "prob_fake": answer.prob_fake,
        "label": answer.label,
        "uncertain": answer.uncertain,
        "reasons": [reason.code for reason in answer.reasons],
        "width": shown.width,
        "height": shown.height,
        "format": shown.format,
        "quality": shown.quality,
        "summary": [round(float(value), 3) for value in summary if np.isfinite(value)],
    }
