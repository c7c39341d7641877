"""The BentoML service: `bentoml serve fakeimage.serving.service:FakeImageDetector`.

Two processes, one entry point:
- `FakeImageDetector` (public HTTP): reads and checks uploads, decodes and preprocesses them
  with the training code (`fakeimage.data.images`), builds the JSON answers. It holds its own
  copy of the detector for single images (/predict, /explain): scoring one 32x32 image takes
  about 2 ms (two passes with flip averaging), and a hop to another process would add about
  2 ms more, so single images are scored where they are decoded.
- `DetectorModel` (its dependency, reached over a local socket with pickled arrays): scores
  /predict_batch's images through BentoML adaptive batching (`scores`), so concurrent batch
  requests share model batches while the API process decodes the next uploads.

Endpoints: POST /predict (multipart field `image`), POST /predict_batch (field `images`,
repeated), POST /explain (field `image`, answers a PNG); BentoML's /livez, /readyz and /metrics.
Limits come from FAKEIMAGE_* environment variables (see `predictions.ServingConfig`). Both
processes declare the model they serve, a BentoML store model (see `bento_store`): the Bento
argument `model_tag`, else the local champion (models/champion, else models/reference, or the
folder named by FAKEIMAGE_MODEL).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import anyio.to_thread
import bentoml
import numpy as np
from PIL import Image
from starlette.responses import JSONResponse, Response

from fakeimage.models.onnx_runtime import OnnxDetector, load_onnx_detector
from fakeimage.serving import explain
from fakeimage.serving.bento_store import served_model_tag
from fakeimage.serving.predictions import (
    MULTIPART_SLACK,
    FilePrediction,
    ModelInfo,
    Prediction,
    PreparedImage,
    RequestError,
    RequestGuardMiddleware,
    ServingConfig,
    build_prediction,
    mark_request_parsed,
    prepare_upload,
    prepare_uploads,
    upload_name,
    upload_tmpdir,
    verdict,
)

logger = logging.getLogger("bentoml.fakeimage")
CONFIG = ServingConfig.from_env()
MODEL_TAG = served_model_tag()


def load_served_detector(
    stored: bentoml.Model, role: str, threads: int
) -> tuple[OnnxDetector, ModelInfo]:
    """The ONNX graph of the declared store model, loaded for this process.

    ONNX Runtime gets `threads` intra-op threads (0 keeps its default, all cores); one call
    before traffic arrives warms it up; the log says which model is served.
    """
    detector = load_onnx_detector(Path(stored.path), threads)
    source = f"BentoML model {stored.tag}"
    detector.predict_proba(np.zeros((1, 32, 32, 3), dtype=np.uint8))
    info = ModelInfo.from_detector(detector, source)
    logger.info(
        "%s: serving model %s version %s (threshold %.4f) from %s; ONNX Runtime threads: %s",
        role,
        info.name,
        info.version,
        info.threshold,
        source,
        threads or "default",
    )
    return detector, info


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

    bento_model = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        detector, _ = load_served_detector(
            self.bento_model, "batch model worker", CONFIG.batch_threads
        )
        self.score = detector.predict_proba

    @bentoml.api(
        batchable=True,
        batch_dim=(0, 0),
        max_batch_size=CONFIG.batch_size,
        max_latency_ms=CONFIG.batch_latency_ms,
    )
    def scores(self, images: np.ndarray) -> np.ndarray:
        """P(fake) for uint8 images (N, 32, 32, 3) already preprocessed by to_model_input."""
        return self.score(images)


@bentoml.service(
    workers=1,
    # at most 64 requests in progress (more get 429): bounds the memory that uploads can take
    traffic={"timeout": 60, "max_concurrency": 64},
)
class FakeImageDetector:
    """Tell AI-generated images from real photographs: POST an image, get REAL or FAKE."""

    model = bentoml.depends(DetectorModel)
    bento_model = bentoml.models.BentoModel(MODEL_TAG)

    def __init__(self) -> None:
        detector, self.info = load_served_detector(self.bento_model, "API", CONFIG.model_threads)
        self.score = detector.predict_proba
        tmpdir = upload_tmpdir()
        if tmpdir is not None:  # where BentoML spools uploads, in this API process only
            tempfile.tempdir = tmpdir
        logger.info(
            "FakeImageDetector API: uploads up to %.3g MB and %s pixels, batches up to %d "
            "files, spooled in %s; model batches up to %d images within %d ms",
            CONFIG.max_upload_bytes / 2**20,
            f"{CONFIG.max_pixels:,}",
            CONFIG.max_batch_files,
            tempfile.gettempdir(),
            CONFIG.batch_size,
            CONFIG.batch_latency_ms,
        )

    def _prepare_and_score(self, image: Path) -> tuple[PreparedImage, float]:
        """Read, check and preprocess one upload, then score it; RequestError if it is bad."""
        prepared = prepare_upload(image, CONFIG)
        (probability,) = self.score(prepared.pixels[np.newaxis])
        return prepared, float(probability)

    async def _batch_scores(self, prepared: list[PreparedImage]) -> np.ndarray:
        """P(fake) of many images from the batch model worker (adaptive batching)."""
        pixels = np.stack([item.pixels for item in prepared])
        if hasattr(self.model, "to_async"):  # a proxy to the model service's process
            scores = await self.model.to_async.scores(pixels)
        else:  # the dependency was built in this process (no `bentoml serve`)
            scores = await anyio.to_thread.run_sync(self.model.scores, pixels)
        return np.asarray(scores, dtype=np.float64)

    @bentoml.api(route="/predict")
    async def predict(self, image: Path) -> Prediction:
        """Classify one image sent as multipart/form-data field `image`."""
        mark_request_parsed()
        try:
            prepared, probability = await anyio.to_thread.run_sync(self._prepare_and_score, image)
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]
        return Prediction(**build_prediction(probability, self.info, prepared))

    @bentoml.api(route="/predict_batch")
    async def predict_batch(self, images: list[Path]) -> list[FilePrediction]:
        """Classify several images sent as repeated multipart/form-data field `images`."""
        mark_request_parsed()
        try:
            prepared = await anyio.to_thread.run_sync(prepare_uploads, images, CONFIG)
            probabilities = await self._batch_scores(prepared)
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]
        return [
            FilePrediction(**build_prediction(probability, self.info, item, file=upload_name(path)))
            for probability, item, path in zip(probabilities, prepared, images, strict=True)
        ]

    @bentoml.api(route="/explain")
    async def explain(self, image: Path) -> Image.Image:
        """Occlusion map of the verdict on one image (field `image`) over its 32x32 input, PNG."""
        mark_request_parsed()
        try:
            prepared, probability = await anyio.to_thread.run_sync(self._prepare_and_score, image)
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]
        label, confidence = verdict(probability, self.info.threshold)
        png = await anyio.to_thread.run_sync(_render, self.score, prepared.pixels, label)
        headers = {
            "X-FakeImage-Label": label,
            "X-FakeImage-Prob-Fake": f"{probability:.6f}",
            "X-FakeImage-Confidence": f"{confidence:.6f}",
            "X-FakeImage-Model": f"{self.info.name}@{self.info.version}",
        }
        if prepared.warnings:
            headers["X-FakeImage-Warnings"] = " | ".join(prepared.warnings)
        return Response(png, media_type="image/png", headers=headers)  # type: ignore[return-value]


def _render(score: Any, pixels: np.ndarray, label: str) -> bytes:
    heat = explain.heatmap(score, pixels, explain_fake=label == "FAKE")
    return explain.png_bytes(explain.overlay(pixels, heat))


def _error(exc: RequestError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


FakeImageDetector.add_asgi_middleware(
    RequestGuardMiddleware,
    limits={
        "/predict": CONFIG.max_upload_bytes + MULTIPART_SLACK,
        "/explain": CONFIG.max_upload_bytes + MULTIPART_SLACK,
        "/predict_batch": CONFIG.max_batch_bytes,
    },
)
