"""`zoo` in params.yaml: empty by default, each generator checked, every mistake one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fakeimage.config import GeneratorParams, ZooParams, load_params, parse_params
from fakeimage.errors import UserError

REPO_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def _error(zoo: Any) -> str:
    with pytest.raises(UserError) as caught:
        parse_params({"zoo": zoo})
    message = str(caught.value)
    assert "\n" not in message and message.startswith("params.yaml: ")
    return message


@pytest.mark.timeout(10)
def test_the_repository_zoo_is_empty_and_a_listed_one_keeps_defaults() -> None:
    assert load_params(REPO_PARAMS).zoo == ZooParams()
    zoo = parse_params({"zoo": {"generators": [{"family": "ddpm", "sampling_steps": 20}]}}).zoo
    assert zoo.generators == (GeneratorParams(family="ddpm", sampling_steps=20),)
    assert zoo.generators[0].source == "ddpm"
    named = parse_params({"zoo": {"generators": [{"family": "vae", "name": "vae-2"}]}}).zoo
    assert named.generators[0].source == "vae-2"
    assert zoo.generators[0].steps == 20 and GeneratorParams(family="ddpm").steps == 25


@pytest.mark.timeout(10)
def test_a_zoo_survives_the_round_trip_through_a_model_card() -> None:
    """A card stores the full params, defaults written out; reading them back must accept them."""
    listed = [{"family": "dcgan", "epochs": 130}, {"family": "ddpm", "epochs": 45}]
    params = parse_params({"zoo": {"generators": listed}})
    assert parse_params(params.model_dump(mode="json")) == params


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("zoo", "needle"),
    [
        ({"generators": [{"family": "gan"}]}, "zoo.generators.0 family is 'gan'; expected one of"),
        ({"generators": [{"epochs": 3}]}, "zoo.generators.0.family is not set"),
        (
            {"generators": [{"family": "vae", "epoch": 3}]},
            "zoo.generators.0 has an unknown key 'epoch' (known here: batch_size, epochs,",
        ),
        ({"generators": [{"family": "vae", "epochs": 0}]}, "zoo.generators.0.epochs"),
        ({"generators": [{"family": "vae", "width": 4}]}, "zoo.generators.0.width"),
        ({"generators": [{"family": "vae", "train_images": 2}]}, "zoo.generators.0.train_images"),
        ({"generators": [{"family": "vae", "samples_test": -1}]}, "zoo.generators.0.samples_test"),
        ({"generators": [{"family": "vae", "epochs": "3"}]}, "epochs must be int, got str '3'"),
        ({"generators": [{"family": "vae", "name": "REAL"}]}, "zoo.generators.0.name"),
        (
            {"generators": [{"family": "dcgan", "sampling_steps": 10}]},
            "zoo.generators.0 sampling_steps is for ddpm only, not dcgan",
        ),
        (
            {"generators": [{"family": "vae"}, {"family": "ddpm", "name": "vae"}]},
            "zoo.generators names 'vae' twice: give each its own `name`",
        ),
        ({"generators": {"family": "vae"}}, "zoo.generators must be a list, got dict"),
        ({"quality_images": 5}, "zoo.quality_images must be >= 20"),
        ({"generator": []}, "unknown key 'zoo.generator' (known here: generators, quality_images)"),
    ],
)
def test_bad_values_are_one_line_naming_the_key(zoo: dict, needle: str) -> None:
    assert needle in _error(zoo)
