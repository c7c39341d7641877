"""records.replace: a changed copy of a strict, frozen record is checked like a new one."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cards import make_card
from fakeimage.config import ArchiveSource, Params, parse_params
from fakeimage.records import replace


def test_replace_changes_only_what_it_is_given() -> None:
    params = parse_params({"train": {"augment": {"jpeg": {"quality": [40, 90]}}}})
    train = replace(params.train, epochs=3)
    assert train.epochs == 3
    assert train.augment.jpeg.quality == (40, 90)  # tuples and nested sections survive
    assert replace(params, train=train) == params.model_copy(update={"train": train})


def test_replace_validates_the_new_values() -> None:
    params = Params()
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        replace(params.train, epochs=0)
    with pytest.raises(ValidationError, match=r"parent_weight needs train\.init_from"):
        replace(params.train, parent_weight=0.5)  # a model validator runs too
    with pytest.raises(ValidationError, match="Field required"):
        replace(params.data, source={"kind": "archive"})
    data = replace(params.data, source=ArchiveSource(path="a.zip"))
    assert data.source == ArchiveSource(path="a.zip")


def test_replace_refuses_unknown_fields() -> None:
    with pytest.raises(TypeError, match="no field epoch"):
        replace(Params().train, epoch=3)


def test_replace_on_a_model_card() -> None:
    card = make_card()
    renamed = replace(card, name="another-detector", version="4")
    assert (renamed.name, renamed.version) == ("another-detector", "4")
    assert renamed.model_dump() == {**card.model_dump(), "name": "another-detector", "version": "4"}
    with pytest.raises(ValidationError):
        replace(card, version=4)  # strict: an int is no version
