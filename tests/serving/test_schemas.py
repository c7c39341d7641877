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
from tests.cards import make_rule

MODEL = ModelInfo("detector", "3", 0.6)
INPUT = {"width": 32, "height": 32, "mode": "RGB", "format": "PNG", "quality": None}
SHARP = {"distance": 1.0, "detail": 30.0}


def test_build_prediction() -> None:
    answer = build_prediction(np.float32(0.25), MODEL, INPUT, ["grayscale"], **SHARP)
    assert answer.model_dump() == {
        "label": "REAL",
        "uncertain": False,
        "reasons": [],
        "prob_fake": 0.25,
        "confidence": 0.75,
        "threshold": 0.6,
        "model": {"name": "detector", "version": "3"},
        "input": INPUT,
        "warnings": ["grayscale"],
        "explanation": None,
        "request_id": None,
    }
    assert Prediction.model_validate_json(answer.model_dump_json()) == answer


def test_batch_answers_name_their_file() -> None:
    answer = build_prediction(0.75, MODEL, INPUT, [], file="a.png", **SHARP)
    assert isinstance(answer, FilePrediction)
    assert (answer.file, answer.label, answer.confidence) == ("a.png", "FAKE", 0.75)


def test_explanations_ride_along_when_asked_for() -> None:
    explanation = Explanation(png_base64="iVBORw0KGgo=")
    answer = build_prediction(0.9, MODEL, INPUT, [], explanation=explanation, **SHARP)
    assert json.loads(answer.model_dump_json())["explanation"] == {
        "method": "occlusion",
        "png_base64": "iVBORw0KGgo=",
    }


def test_answers_without_a_verdict_do_not_validate() -> None:
    body = build_prediction(0.9, MODEL, INPUT, [], **SHARP).model_dump()
    with pytest.raises(ValidationError):
        Prediction.model_validate({**body, "label": "MAYBE"})
    with pytest.raises(ValidationError):
        Prediction.model_validate({k: v for k, v in body.items() if k != "prob_fake"})
    with pytest.raises(ValidationError):
        Prediction.model_validate({k: v for k, v in body.items() if k != "uncertain"})


def test_an_uncertain_answer_keeps_the_likelier_label_and_says_why() -> None:
    rule = make_rule(band=(0.45, 0.7))
    model = ModelInfo("detector", "3", 0.6, rule)
    assert not build_prediction(0.9, model, INPUT, [], **SHARP).uncertain
    close = build_prediction(0.65, model, INPUT, [], **SHARP)
    assert close.uncertain and close.label == "FAKE"
    assert [r.code for r in close.reasons] == ["near_threshold"]
    large = {**INPUT, "width": 1024, "height": 1024}
    odd = build_prediction(0.02, model, large, [], distance=50.0, detail=30.0)
    assert odd.label == "REAL" and [r.code for r in odd.reasons] == ["too_large", "unfamiliar"]
    body = json.loads(odd.model_dump_json())
    assert body["uncertain"] is True and body["reasons"][1]["message"]


def test_the_openapi_schema_documents_the_fields() -> None:
    properties = Prediction.model_json_schema()["properties"]
    assert "cannot judge" in properties["uncertain"]["description"]
    assert "near_threshold" in properties["reasons"]["description"]
    assert "Calibrated" in properties["prob_fake"]["description"]
