"""The typed model card: saves and loads exactly, refuses what is not a card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fakeimage.detector.card import ModelCard
from fakeimage.detector.folder import CARD_FILE, DetectorFolder, write_card
from fakeimage.errors import UserError
from fakeimage.paths import REFERENCE_DIR
from tests.cards import make_card


def test_card_round_trips_exactly(tmp_path: Path) -> None:
    card = make_card()
    write_card(tmp_path, card)
    loaded = DetectorFolder(tmp_path).card()
    assert loaded == card
    assert loaded.to_json() == card.to_json()
    assert loaded.params.train.learning_rate == 0.001  # nested and typed, not text


def test_card_exposes_the_decision_rule() -> None:
    card = make_card()
    assert (card.threshold, card.flip_tta, card.label) == (0.4321, False, "fake-image-detector@3")
    unevaluated = make_card(evaluated=False)
    assert (unevaluated.threshold, unevaluated.flip_tta) == (0.5, False)


def test_synthetic_data_is_not_real_data() -> None:
    assert make_card(source="embedded").data.is_real
    assert not make_card(source="synthetic").data.is_real


def test_unknown_or_wrong_typed_keys_are_one_clear_line(tmp_path: Path) -> None:
    text = make_card().to_json()
    (tmp_path / CARD_FILE).write_text(text.replace('"version": "3"', '"version": 3'))
    with pytest.raises(UserError, match="version"):
        DetectorFolder(tmp_path).card()
    (tmp_path / CARD_FILE).write_text(text.replace('"alias"', '"aliases"'))
    with pytest.raises(UserError, match="aliases"):
        DetectorFolder(tmp_path).card()


def test_missing_card_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=str(tmp_path)):
        DetectorFolder(tmp_path).card()


def _kept(stored: Any, loaded: Any) -> bool:
    """Whether everything `stored` says is in `loaded` unchanged (which may say more)."""
    if isinstance(stored, dict):
        return isinstance(loaded, dict) and all(
            key in loaded and _kept(value, loaded[key]) for key, value in stored.items()
        )
    return stored == loaded


def test_the_shipped_reference_card_loads_and_round_trips() -> None:
    """Nothing the shipped card says is lost on loading; settings added to the project since
    (a params section, an evaluation field) come in with their defaults."""
    text = (REFERENCE_DIR / CARD_FILE).read_text()
    card = ModelCard.from_json(text)
    assert _kept(json.loads(text), json.loads(card.to_json()))
    assert ModelCard.from_json(card.to_json()) == card
    assert card.data.is_real and card.evaluation is not None
