"""The service's answers as pydantic models: what BentoML publishes in its OpenAPI document
and what the web page validates each answer against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict

from fakeimage.data.images import describe_input, input_warnings
from fakeimage.detector.card import UncertaintyRule
from fakeimage.detector.scoring import Assessment
from fakeimage.detector.uncertainty import uncertain_reasons
from fakeimage.detector.verdict import verdict


@dataclass(frozen=True)
class ModelInfo:
    """What the answers say about the served detector, and its rule for doubting itself."""

    name: str
    version: str
    threshold: float
    uncertainty: UncertaintyRule | None = None


class Answer(BaseModel):
    # the docstring under each field becomes its description in the OpenAPI document
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)


class ModelRef(Answer):
    name: str
    version: str


class InputInfo(Answer):
    width: int
    height: int
    mode: str
    format: str | None
    quality: int | None = None
    """For a JPEG, the quality (1-100) its quantisation table corresponds to."""


class Explanation(Answer):
    """Occlusion sensitivity over the 32x32 input, drawn on it as a PNG."""

    method: Literal["occlusion"] = "occlusion"
    png_base64: str
    """The overlay (256x256 PNG), base64: warm colours mark the regions whose hiding lowers
    the probability of the label most."""


class ReasonInfo(Answer):
    """Why an answer is uncertain: a stable code for programs, a sentence for people."""

    code: Literal[
        "near_threshold", "too_large", "too_small", "not_square", "little_detail", "unfamiliar"
    ]
    message: str


class Prediction(Answer):
    """The answer of /predict."""

    label: Literal["REAL", "FAKE"]
    """The more likely class, also when the answer is uncertain."""
    uncertain: bool
    """True when the model cannot judge this image reliably: read `reasons`, and do not act
    on `label` alone."""
    reasons: list[ReasonInfo]
    """Every reason the answer is uncertain (empty when it is not): near_threshold (P(fake)
    in the band around the threshold), too_large / too_small / not_square (the upload is far
    from the 32x32 squares the model learnt), little_detail (too smooth at 32x32: blurred,
    enlarged, flat graphics), unfamiliar (the network's features are far from its training
    images')."""
    prob_fake: float
    """Calibrated P(FAKE): of many answers with prob_fake 0.8, about 80% are FAKE (on data
    like the validation split)."""
    confidence: float
    """Probability of the returned label: prob_fake for FAKE, 1 - prob_fake for REAL."""
    threshold: float
    """FAKE when prob_fake >= threshold (chosen on validation data at training time)."""
    model: ModelRef
    input: InputInfo
    """The upload as received: size before resizing, Pillow mode and format."""
    warnings: list[str]
    """Why this verdict may be less reliable (size, aspect, animation, grayscale...)."""
    explanation: Explanation | None = None
    """Only when the request asked for it (form field explain=true)."""
    request_id: str | None = None
    """The service's id for this answer (also in its answer log): quote it in POST /feedback
    to report a wrong verdict."""


class FilePrediction(Prediction):
    """One answer of /predict_batch: a Prediction plus the file's name, in upload order."""

    file: str


def build_prediction(
    prob_fake: float,
    model: ModelInfo,
    input_info: dict[str, object],
    warnings: list[str],
    *,
    distance: float,
    detail: float,
    file: str | None = None,
    explanation: Explanation | None = None,
    request_id: str | None = None,
) -> Prediction:
    """The answer for one assessed image (a FilePrediction when `file` names it)."""
    prob_fake = float(prob_fake)
    label, confidence = verdict(prob_fake, model.threshold)
    shown = InputInfo.model_validate(input_info)
    reasons = uncertain_reasons(
        model.uncertainty, prob_fake, distance, detail, shown.width, shown.height
    )
    fields = {
        "label": label,
        "uncertain": bool(reasons),
        "reasons": [ReasonInfo(code=r.code, message=r.message) for r in reasons],
        "prob_fake": round(prob_fake, 6),
        "confidence": round(confidence, 6),
        "threshold": model.threshold,
        "model": ModelRef(name=model.name, version=model.version),
        "input": shown,
        "warnings": list(warnings),
        "explanation": explanation,
        "request_id": request_id,
    }
    if file is not None:
        return FilePrediction(file=file, **fields)
    return Prediction(**fields)


def answers_for(
    assessed: Assessment,
    model: ModelInfo,
    images: Sequence[Image.Image],
    files: Sequence[str] | None = None,
) -> list[Prediction]:
    """The answers for decoded images assessed together (FilePredictions when `files` names
    them), as the service gives them."""
    return [
        build_prediction(
            assessed.prob_fake[k],
            model,
            describe_input(image),
            input_warnings(image),
            distance=float(assessed.distance[k]),
            detail=float(assessed.detail[k]),
            file=files[k] if files is not None else None,
        )
        for k, image in enumerate(images)
    ]
