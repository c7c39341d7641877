"""The BentoML service: `bentoml serve fakeimage.serving.service:FakeImageDetector`.

Two processes, one entry point:
- `FakeImageDetector` (public HTTP): reads and checks uploads, decodes and preprocesses them
  with the training code (`fakeimage.data.images`), builds the JSON answers. No TensorFlow.
- `DetectorModel` (its dependency, reached over a local socket with pickled arrays): loads the
  detector once and scores uint8 arrays through BentoML adaptive batching (`scores`), so
  concurrent /predict calls and /predict_batch chunks share model batches; also Grad-CAM.

Endpoints: POST /predict (multipart field `image`), POST /predict_batch (field `images`,
repeated), POST /explain (field `image`, answers a PNG); BentoML's /livez, /readyz and /metrics.
Limits come from FAKEIMAGE_* environment variables (see `predictions.ServingConfig`), the model
from FAKEIMAGE_MODEL (default: models/champion, else models/reference).
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import anyio.to_thread
import bentoml
import numpy as np
from PIL import Image
from starlette.responses import JSONResponse, Response

from fakeimage.serving import gradcam
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
    """The detector behind FakeImageDetector: loaded once, scored in adaptive batches."""

    def __init__(self) -> None:
        import tensorflow as tf

        from fakeimage.models.inference import resolve_detector

        if CONFIG.model_threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(CONFIG.model_threads)
                tf.config.threading.set_inter_op_parallelism_threads(CONFIG.model_threads)
            except RuntimeError:  # TensorFlow already ran something in this process
                logger.warning("TensorFlow was initialised already; keeping its thread count")
        detector, source = resolve_detector(os.environ.get("FAKEIMAGE_MODEL"))
        self.info_ = ModelInfo.from_detector(detector, source)
        self.score = detector.predict_proba
        self.score(np.zeros((1, 32, 32, 3), dtype=np.uint8))  # trace the graph before traffic
        self.gradients = gradcam.gradient_model(detector.model)
        logger.info(
            "serving model %s version %s (threshold %.4f) from %s; TensorFlow threads: %s",
            self.info_.name,
            self.info_.version,
            self.info_.threshold,
            source,
            CONFIG.model_threads or "default",
        )

    @bentoml.api(
        batchable=True,
        batch_dim=(0, 0),
        max_batch_size=CONFIG.batch_size,
        max_latency_ms=CONFIG.batch_latency_ms,
    )
    def scores(self, images: np.ndarray) -> np.ndarray:
        """P(fake) for uint8 images (N, 32, 32, 3) already preprocessed by to_model_input."""
        return self.score(images)

    @bentoml.api
    def info(self) -> dict[str, Any]:
        return self.info_.as_dict()

    @bentoml.api
    def heatmap(self, image: np.ndarray, explain_fake: bool) -> np.ndarray:
        """Grad-CAM (32, 32) in [0, 1] of one preprocessed image, for the given class."""
        return gradcam.heatmap(self.gradients, image, explain_fake=explain_fake)


@bentoml.service(
    workers=1,
    # at most 64 requests in progress (more get 429): bounds the memory that uploads can take
    traffic={"timeout": 60, "max_concurrency": 64},
)
class FakeImageDetector:
    """Tell AI-generated images from real photographs: POST an image, get REAL or FAKE."""

    model = bentoml.depends(DetectorModel)

    def __init__(self) -> None:
        self._info: ModelInfo | None = None
        self._info_lock = asyncio.Lock()
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

    async def model_info(self) -> ModelInfo:
        """Name, version and threshold of the served detector, asked once from the model."""
        if self._info is None:
            async with self._info_lock:
                if self._info is None:
                    info = await self._call_model("info")
                    self._info = ModelInfo(
                        str(info["name"]),
                        str(info["version"]),
                        float(info["threshold"]),
                        str(info.get("source", "")),
                    )
        return self._info

    async def _call_model(self, name: str, *args: Any) -> Any:
        """Call a DetectorModel API: in its process under `bentoml serve`, else in this one."""
        if hasattr(self.model, "to_async"):  # a proxy to the model service's process
            return await getattr(self.model.to_async, name)(*args)
        return await anyio.to_thread.run_sync(getattr(self.model, name), *args)

    async def _scores(self, prepared: list[PreparedImage]) -> np.ndarray:
        pixels = np.stack([item.pixels for item in prepared])
        return np.asarray(await self._call_model("scores", pixels), dtype=np.float64)

    async def _score_upload(self, image: Path) -> tuple[PreparedImage, ModelInfo, float]:
        """Read, check and preprocess one upload, then score it; RequestError if it is bad."""
        prepared = await anyio.to_thread.run_sync(prepare_upload, image, CONFIG)
        info = await self.model_info()
        (probability,) = await self._scores([prepared])
        return prepared, info, float(probability)

    @bentoml.api(route="/predict")
    async def predict(self, image: Path) -> Prediction:
        """Classify one image sent as multipart/form-data field `image`."""
        mark_request_parsed()
        try:
            prepared, info, probability = await self._score_upload(image)
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]
        return Prediction(**build_prediction(probability, info, prepared))

    @bentoml.api(route="/predict_batch")
    async def predict_batch(self, images: list[Path]) -> list[FilePrediction]:
        """Classify several images sent as repeated multipart/form-data field `images`."""
        mark_request_parsed()
        try:
            prepared = await anyio.to_thread.run_sync(prepare_uploads, images, CONFIG)
            info = await self.model_info()
            probabilities = await self._scores(prepared)
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]
        return [
            FilePrediction(**build_prediction(probability, info, item, file=upload_name(path)))
            for probability, item, path in zip(probabilities, prepared, images, strict=True)
        ]

    @bentoml.api(route="/explain")
    async def explain(self, image: Path) -> Image.Image:
        """Grad-CAM of the verdict on one image (field `image`) over its 32x32 input, as PNG."""
        mark_request_parsed()
        try:
            prepared, info, probability = await self._score_upload(image)
        except RequestError as exc:
            return _error(exc)  # type: ignore[return-value]
        label, confidence = verdict(float(probability), info.threshold)
        heat = await self._call_model("heatmap", prepared.pixels, label == "FAKE")
        png = await anyio.to_thread.run_sync(_render, prepared.pixels, heat)
        headers = {
            "X-FakeImage-Label": label,
            "X-FakeImage-Prob-Fake": f"{float(probability):.6f}",
            "X-FakeImage-Confidence": f"{confidence:.6f}",
            "X-FakeImage-Model": f"{info.name}@{info.version}",
        }
        if prepared.warnings:
            headers["X-FakeImage-Warnings"] = " | ".join(prepared.warnings)
        return Response(png, media_type="image/png", headers=headers)  # type: ignore[return-value]


def _render(pixels: np.ndarray, heat: np.ndarray) -> bytes:
    return gradcam.png_bytes(gradcam.overlay(pixels, np.asarray(heat)))


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
