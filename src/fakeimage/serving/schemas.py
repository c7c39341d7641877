"""The service's answers as pydantic models: what BentoML publishes in its OpenAPI document
and what the web page validates each answer against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from fakeimage.models.verdict import verdict


@dataclass(frozen=True)
class ModelInfo:
    """What the answers say about the served detector."""

    name: str
    version: str
    threshold: float


class Answer(BaseModel):
    model_config = ConfigDict(frozen=True)


class ModelRef(Answer):
    name: str
    version: str


class InputInfo(Answer):
    width: int
    height: int
    mode: str
    format: str | None


class Explanation(Answer):
    """Occlusion sensitivity over the 32x32 input, drawn on it as a PNG."""

    method: Literal["occlusion"] = "occlusion"
    png_base64: str
    """The overlay (256x256 PNG), base64: warm colours mark the regions whose hiding lowers
    the probability of the label most."""


class Prediction(Answer):
    """The answer of /predict."""

    label: Literal["REAL", "FAKE"]
    prob_fake: float
    """P(FAKE) from the model."""
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


class FilePrediction(Prediction):
    """One answer of /predict_batch: a Prediction plus the file's name, in upload order."""

    file: str


def build_prediction(
    prob_fake: float,
    model: ModelInfo,
    input_info: dict[str, object],
    warnings: list[str],
    *,
    file: str | None = None,
    explanation: Explanation | None = None,
) -> Prediction:
    """The answer for one scored image (a FilePrediction when `file` names it)."""
    prob_fake = float(prob_fake)
    label, confidence = verdict(prob_fake, model.threshold)
    fields = {
        "label": label,
        "prob_fake": round(prob_fake, 6),
        "confidence": round(confidence, 6),
        "threshold": model.threshold,
        "model": ModelRef(name=model.name, version=model.version),
        "input": InputInfo.model_validate(input_info),
        "warnings": list(warnings),
        "explanation": explanation,
    }
    if file is not None:
        return FilePrediction(file=file, **fields)
    return Prediction(**fields)
