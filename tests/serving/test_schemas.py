"""The answers: built from a score and an upload, plain JSON, valid against the schema."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError

from fakeimage.serving.schemas import (
    Explanation,
    FilePrediction,
    ModelInfo,
    Prediction,
    build_prediction,
)

MODEL = ModelInfo("detector", "3", 0.6)
INPUT = {"width": 1, "height": 1, "mode": "RGB", "format": "PNG"}


def test_build_prediction() -> None:
    answer = build_prediction(np.float32(0.25), MODEL, INPUT, ["up-scaled"])
    assert answer.model_dump() == {
        "label": "REAL",
        "prob_fake": 0.25,
        "confidence": 0.75,
        "threshold": 0.6,
        "model": {"name": "detector", "version": "3"},
        "input": INPUT,
        "warnings": ["up-scaled"],
        "explanation": None,
    }
    assert Prediction.model_validate_json(answer.model_dump_json()) == answer


def test_batch_answers_name_their_file() -> None:
    answer = build_prediction(0.75, MODEL, INPUT, [], file="a.png")
    assert isinstance(answer, FilePrediction)
    assert (answer.file, answer.label, answer.confidence) == ("a.png", "FAKE", 0.75)


def test_explanations_ride_along_when_asked_for() -> None:
    explanation = Explanation(png_base64="iVBORw0KGgo=")
    answer = build_prediction(0.9, MODEL, INPUT, [], explanation=explanation)
    assert json.loads(answer.model_dump_json())["explanation"] == {
        "method": "occlusion",
        "png_base64": "iVBORw0KGgo=",
    }


def test_answers_without_a_verdict_do_not_validate() -> None:
    body = build_prediction(0.9, MODEL, INPUT, []).model_dump()
    with pytest.raises(ValidationError):
        Prediction.model_validate({**body, "label": "MAYBE"})
    with pytest.raises(ValidationError):
        Prediction.model_validate({k: v for k, v in body.items() if k != "prob_fake"})
