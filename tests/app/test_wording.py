"""What the page says: never more precise than a calibrated model, never against the threshold."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fakeimage.app import wording
from fakeimage.app.pictures import DISPLAY_PX, map_in_shape
from fakeimage.serving.schemas import ModelInfo, build_prediction

INPUT = {"width": 32, "height": 32, "mode": "RGB", "format": "PNG"}


def _answer(prob_fake: float, *, threshold: float = 0.55, width: int = 32):
    info = ModelInfo("m", "1", threshold)
    shown = {**INPUT, "width": width}
    return build_prediction(prob_fake, info, shown, [], distance=0.0, detail=1.0)


@pytest.mark.parametrize(
    ("p", "shown", "confidence"),
    [
        (0.9991, "above 0.99", "above 99%"),
        (0.0004, "below 0.01", "above 99%"),
        (0.873, "0.87", "87%"),
    ],
)
def test_numbers_are_no_more_precise_than_the_model(p: float, shown: str, confidence: str) -> None:
    answer = _answer(p)
    assert wording.probability(p) == shown
    assert wording.percent(answer.confidence) == confidence
    assert "100%" not in wording.summary(answer) and "1.00" not in wording.summary(answer)


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.87, "P(fake) 0.87: 0.32 above the decision threshold 0.55"),
        (0.04, "P(fake) 0.04: 0.51 below the decision threshold 0.55"),
        (0.548, "P(fake) 0.55: just below the decision threshold 0.55"),
        (0.551, "P(fake) 0.55: at or just above the decision threshold 0.55"),
        (0.8749, "P(fake) 0.87: 0.32 above the decision threshold 0.55"),  # adds up as shown
        (0.9995, "P(fake) above 0.99: more than 0.44 above the decision threshold 0.55"),
        (0.002, "P(fake) below 0.01: more than 0.54 below the decision threshold 0.55"),
    ],
)
def test_the_sentence_names_the_side_of_the_threshold(p: float, expected: str) -> None:
    assert wording.against_threshold(_answer(p)) == expected


def test_an_uncertain_answer_leans_on_the_side_its_score_is() -> None:
    answer = _answer(0.548, width=400)  # too large: uncertain, just below the threshold
    assert answer.uncertain and wording.verdict_name(answer) == "Uncertain"
    text = wording.summary(answer)
    assert "below the decision threshold" in text and "leans towards a real photograph" in text
    assert wording.colour(answer) == wording.COLOURS["UNCERTAIN"]
    assert wording.reasons(answer) == "too large, not square"


def test_the_bar_is_coloured_by_the_verdict_and_marks_the_threshold() -> None:
    fake, real = _answer(0.9), _answer(0.1)
    assert f'data-colour="{wording.COLOURS["FAKE"]}"' in wording.scale(fake)
    assert f'data-colour="{wording.COLOURS["REAL"]}"' in wording.scale(real)
    assert 'aria-valuenow="0.9000"' in wording.scale(fake)
    assert "left:55.0%" in wording.scale(fake) and "width:90.0%" in wording.scale(fake)


def test_the_occlusion_map_takes_the_uploads_shape() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 0, 0)).save(buffer, "PNG")
    portrait = map_in_shape(buffer.getvalue(), 300, 600)
    assert portrait.size == (DISPLAY_PX // 2, DISPLAY_PX)
    assert map_in_shape(buffer.getvalue(), 32, 32).size == (DISPLAY_PX, DISPLAY_PX)


def test_the_side_is_the_verdicts_even_where_rounding_would_flip_it() -> None:
    answer = _answer(0.5499997, threshold=0.55)  # REAL, yet shown as 0.55
    assert answer.label == "REAL"
    assert wording.against_threshold(answer).endswith("just below the decision threshold 0.55")
    assert wording._threshold(0.9971) == "0.997" and wording._threshold(0.55) == "0.55"
