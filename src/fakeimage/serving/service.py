"""The BentoML service: `bentoml serve fakeimage.serving.service:FakeImageDetector`.

Two processes, one entry point:
- `FakeImageDetector` (public HTTP): reads and checks uploads in memory, decodes and
  preprocesses them with the training code (`fakeimage.data.images`), builds the answers. It
  holds its own copy of the detector for single images (/predict, /explain): scoring one 32x32
  image takes about 2 ms, and a hop to another process would add as much again.
- `DetectorModel` (its dependency, reached over a local socket with pickled arrays): scores
  /predict_batch's images through BentoML adaptive batching (`scores`), so concurrent batch
  requests share model batches while the API process decodes the next uploads.

Endpoints: POST /predict (multipart field `image`; `explain=true` adds the occlusion map),
POST /predict_batch (field `images`, repeated), POST /explain (field `image`, answers the map
as a PNG), POST /feedback (a wrong verdict reported, `serving.feedback`); BentoML's /livez,
/readyz and /metrics, with the answers' own signals (`serving.monitor`). Every answer is
logged (`monitoring.answer_log`). Limits come from FAKEIMAGE_* environment
variables (`settings.ServingSettings`). Both processes declare the model they serve, a BentoML
store model (see `bento_store`) named by the Bento argument `model_tag`: `fakeimage serve`
stores it and passes it, `bentoml build --arg model_tag=...` keeps it in the Bento. Importing
this module reads no model folder and writes nothing; without the argument the classes still
import (tests build the service around a loaded detector), but serving them stops with one line.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import anyio.lowlevel
import anyio.to_thread
import bentoml
import numpy as np
from bentoml.exceptions import BentoMLException
from PIL import Image
from starlette.responses import Response

from fakeimage.detector.onnx_runtime import OnnxDetector
from fakeimage.detector.uncertainty import detail_energy
from fakeimage.errors import UserError
from fakeimage.monitoring.summary import Summary, summary_rows
from fakeimage.serving import explain
from fakeimage.serving.bento_store import load_stored_detector
from fakeimage.serving.feedback import Receipt, take_feedback
from fakeimage.serving.guard import (
    MULTIPART_SLACK,
    RequestGuardMiddleware,
    answers_request_errors,
    requests_in_flight,
)
from fakeimage.serving.monitor import Monitor
from fakeimage.serving.request_ids import RequestIds
from fakeimage.serving.schemas import (
    Explanation,
    FilePrediction,
    ModelInfo,
    Prediction,
    build_prediction,
)
from fakeimage.serving.settings import load_settings
from fakeimage.serving.uploads import (
    Upload,
    is_tiny_image,
    keep_uploads_in_memory,
    prepare_upload,
    prepare_uploads,
)

logger = logging.getLogger("bentoml.fakeimage")
SETTINGS = load_settings()
MODEL_TAG: str | None = getattr(bentoml.use_arguments(), "model_tag", None)
NO_MODEL = (
    "no model to serve: start the service with `fakeimage serve` (or `make serve`), or "
    "`bentoml serve fakeimage.serving.service:FakeImageDetector --arg model_tag=TAG` with a "
    "model stored by `fakeimage bento`"
)


def declared_model() -> bentoml.models.BentoModel | None:
    """The store model both services declare, so that a Bento packages it; None without the
    Bento argument (the classes must import for tests all the same)."""
    return bentoml.models.BentoModel(MODEL_TAG) if MODEL_TAG else None


def load_served_detector(service: object, role: str, threads: int) -> OnnxDetector:
    """The ONNX graph of the service's declared store model, loaded and warmed up."""
    stored = getattr(service, "bento_model", None)  # resolved from the store on first access
    if stored is None:
        raise UserError(NO_MODEL)
    return load_stored_detector(Path(stored.path), str(stored.tag), role, threads)


@bentoml.service(
    workers=1,
    threads=1,  # one model call at a time; requests arriving meanwhile form the next batch
    traffic={"timeout": 60},
    logging={"access": {"enabled": False}},  # internal hops; the public service logs requests
    # BentoML 1.4.40 recycles the client session to a dependency every `max_requests` calls
    # and closes it under requests still in flight ("Cannot write to closing transport",
    # answered 500). One local socket needs no recycling.
    runner_connection={"max_requests": 2**31 - 1, "max_age": 10.0**9},
)
class DetectorModel:
    """The batch scorer behind /predict_batch: loaded once, called in adaptive batches."""

    bento_model = declared_model()

    def __init__(self, detector: OnnxDetector | None = None) -> None:
        """The declared store model's detector; `detector` instead builds this scorer around
        one already loaded, in this process (tests)."""
        if detector is None:
            detector = load_served_detector(self, "batch model worker", SETTINGS.batch_threads)
        self.detector = detector
        self.summary = Summary.of(detector.stats) if detector.stats is not None else None

    @bentoml.api(
        batchable=True,
        batch_dim=(0, 0),
        max_batch_size=SETTINGS.batch_size,
        max_latency_ms=SETTINGS.batch_latency_ms,
    )
    def scores(self, images: np.ndarray) -> np.ndarray:
        """(N, 2 + AXES): calibrated P(fake), feature distance and the features' summary of
        uint8 images (N, 32, 32, 3) already preprocessed by to_model_input."""
        assessed = self.detector.assess(images)
        summaries = summary_rows(self.summary, assessed.features)
        return np.column_stack([assessed.prob_fake, assessed.distance, summaries])


@bentoml.service(
    workers=1,
    # at most 64 requests in progress (more get 429): bounds the memory that uploads can take
    traffic={"timeout": 60, "max_concurrency": 64},
)
class FakeImageDetector:
    """Tell AI-generated images from real photographs: POST an image, get REAL or FAKE."""

    model = bentoml.depends(DetectorModel)
    bento_model = declared_model()

    def __init__(self, detector: OnnxDetector | None = None) -> None:
        """The declared store model's detector, as `bentoml serve` builds the service.

        `FakeImageDetector.inner(detector)` builds it in this process around a detector
        already loaded, with its batch scorer beside it instead of the dependency's process:
        no server, no model store, no Bento argument (the in-process tests).
        """
        if detector is None:
            detector = load_served_detector(self, "API", SETTINGS.model_threads)
        else:
            self.model = DetectorModel.inner(detector)  # in place of the remote dependency
        self.detector = detector
        self.info = ModelInfo(
            detector.name, detector.version, detector.threshold, detector.card.uncertainty
        )
        self.summary = Summary.of(detector.stats) if detector.stats is not None else None
        self.monitor = Monitor(SETTINGS, self.info)
        self.ids = RequestIds.for_folder(SETTINGS.feedback_dir)
        keep_uploads_in_memory(SETTINGS.max_upload_bytes)
        logger.info(
            "FakeImageDetector API: uploads up to %.3g MB and %s pixels, read in memory; "
            "batches up to %d files; model batches up to %d images within %d ms",
            SETTINGS.max_upload_mb,
            f"{SETTINGS.max_pixels:,}",
            SETTINGS.max_batch_files,
            SETTINGS.batch_size,
            SETTINGS.batch_latency_ms,
        )
        logger.info(
            "FakeImageDetector API: answers logged in %s; feedback kept in %s",
            SETTINGS.log_dir.absolute() if SETTINGS.log_dir else "nowhere (FAKEIMAGE_LOG_DIR='')",
            SETTINGS.feedback_dir.absolute() if SETTINGS.feedback_dir else "nowhere (off)",
        )

    @bentoml.on_deployment
    def require_a_model() -> None:
        """Once in `bentoml serve`, before any worker starts: without the Bento argument there
        is nothing to serve, said in one line (workers failing would restart forever)."""
        if MODEL_TAG is None:
            raise BentoMLException(NO_MODEL)

    def _judge(
        self, upload: Upload, with_map: bool, endpoint: str
    ) -> tuple[Prediction, bytes | None]:
        """Read, check and assess one upload, with its occlusion map as a PNG if asked for."""
        prepared = prepare_upload(upload, SETTINGS)
        assessed = self.detector.assess(prepared.pixels[np.newaxis])
        png = None
        if with_map:
            score = self.detector.predict_proba
            _, heat = explain.occlusion(score, prepared.pixels, self.info.threshold)
            png = explain.png_bytes(explain.overlay(prepared.pixels, heat))
        answer = build_prediction(
            assessed.prob_fake[0],
            self.info,
            prepared.input,
            prepared.warnings,
            distance=float(assessed.distance[0]),
            detail=float(assessed.detail[0]),
            explanation=Explanation(png_base64=base64.b64encode(png).decode()) if png else None,
            request_id=self.ids.issue(prepared.digest),
        )
        self.monitor.observe(endpoint, [answer], summary_rows(self.summary, assessed.features))
        return answer, png

    async def _batch_scores(self, pixels: np.ndarray) -> np.ndarray:
        """`DetectorModel.scores` from the batch model worker (adaptive batching)."""
        if hasattr(self.model, "to_async"):  # a proxy to the model service's process
            scores = await self.model.to_async.scores(pixels)
        else:  # the dependency was built in this process (no `bentoml serve`)
            scores = await anyio.to_thread.run_sync(self.model.scores, pixels)
        return np.asarray(scores, dtype=np.float64).reshape(len(pixels), -1)

    @bentoml.api(route="/predict")
    @answers_request_errors
    async def predict(self, image: Upload, explain: bool = False) -> Prediction:
        """Classify one image sent as multipart/form-data field `image`.

        With form field `explain=true` the answer carries the occlusion map as a PNG.
        """
        # Requests read in the same turn of the event loop have not reached the guard yet:
        # one checkpoint lets them be counted before this one decides to keep the loop.
        await anyio.lowlevel.checkpoint()
        if not explain and requests_in_flight() <= 1 and is_tiny_image(image):
            # Alone with a tiny image: judged on the event loop, which has nothing else to
            # do meanwhile. The hop to a worker thread and back would add 0.2-0.5 ms to a
            # 3-4 ms answer; under concurrent requests the threads use both cores instead.
            answer, _ = self._judge(image, False, "/predict")
        else:
            answer, _ = await anyio.to_thread.run_sync(self._judge, image, explain, "/predict")
        return answer

    @bentoml.api(route="/predict_batch")
    @answers_request_errors
    async def predict_batch(self, images: list[Upload]) -> list[FilePrediction]:
        """Classify several images sent as repeated multipart/form-data field `images`."""
        prepared = await anyio.to_thread.run_sync(prepare_uploads, images, SETTINGS)
        pixels = np.stack([item.pixels for item in prepared])
        scores = await self._batch_scores(pixels)
        details = detail_energy(pixels)
        answers = [
            build_prediction(
                probability,
                self.info,
                item.input,
                item.warnings,
                distance=distance,
                detail=detail,
                file=upload.name,
                request_id=self.ids.issue(item.digest),
            )
            for (probability, distance), detail, item, upload in zip(
                scores[:, :2], details, prepared, images, strict=True
            )
        ]
        await anyio.to_thread.run_sync(
            self.monitor.observe, "/predict_batch", answers, scores[:, 2:]
        )
        return answers  # type: ignore[return-value]

    @bentoml.api(route="/explain")
    @answers_request_errors
    async def explain(self, image: Upload) -> Image.Image:
        """Occlusion map of the verdict on one image (field `image`) over its 32x32 input, PNG."""
        answer, png = await anyio.to_thread.run_sync(self._judge, image, True, "/explain")
        headers = {
            "X-FakeImage-Label": answer.label,
            "X-FakeImage-Prob-Fake": f"{answer.prob_fake:.6f}",
            "X-FakeImage-Confidence": f"{answer.confidence:.6f}",
            "X-FakeImage-Uncertain": str(answer.uncertain).lower(),
            "X-FakeImage-Model": f"{self.info.name}@{self.info.version}",
            "X-FakeImage-Request-Id": answer.request_id or "",
        }
        if answer.reasons:
            headers["X-FakeImage-Reasons"] = ",".join(r.code for r in answer.reasons)
        if answer.warnings:
            headers["X-FakeImage-Warnings"] = " | ".join(answer.warnings)
        return Response(png, media_type="image/png", headers=headers)  # type: ignore[return-value]

    @bentoml.api(route="/feedback")
    @answers_request_errors
    async def feedback(
        self,
        request_id: str | int,
        label: str | int,
        source: str | int = "",
        consent: bool = False,
        image: Upload | None = None,
    ) -> Receipt:
        """Report a wrong verdict: the answer's request_id, the true label (REAL or FAKE), the
        generator or camera if known (source), and the image only with consent=true."""
        # (BentoML reads form fields that look like numbers as numbers: taken back as text)
        fields = (str(request_id), str(label), str(source))
        args = (SETTINGS, self.info, self.ids, *fields, consent, image)
        return await anyio.to_thread.run_sync(take_feedback, *args)


FakeImageDetector.add_asgi_middleware(
    RequestGuardMiddleware,
    limits={
        "/predict": SETTINGS.max_upload_bytes + MULTIPART_SLACK,
        "/explain": SETTINGS.max_upload_bytes + MULTIPART_SLACK,
        "/predict_batch": SETTINGS.max_batch_bytes,
        "/feedback": SETTINGS.max_upload_bytes + MULTIPART_SLACK,
    },
)
