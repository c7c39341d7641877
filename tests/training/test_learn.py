"""The experiment `fakeimage learn` runs: the parent's network and recipe, the learn section's
schedule, and overrides DVC's -S grammar reads back."""

from __future__ import annotations

from pathlib import Path

from fakeimage.config import LearnParams
from fakeimage.detector.folder import DetectorFolder
from fakeimage.training.learn import _value, learn_run

REFERENCE = Path(__file__).resolve().parents[2] / "models" / "reference"


def test_the_run_fine_tunes_the_parent_on_its_own_recipe_with_the_learn_schedule() -> None:
    card = DetectorFolder(REFERENCE).card()
    run = learn_run("FAKE/newgen", Path("models/champion"), card, LearnParams(epochs=7))
    settings = run.settings
    assert run.name.startswith("learn-newgen-")
    assert settings["train.init_from"] == "models/champion"
    for key, value in card.params.model.model_dump().items():  # the parent's network
        assert settings[f"model.{key}"] == value
    assert settings["train.optimizer"] == card.params.train.optimizer
    assert settings["train.augment.blur.p"] == card.params.train.augment.blur.p
    assert settings["train.augment.resize.filters"] == list(
        card.params.train.augment.resize.filters
    )
    assert (settings["train.epochs"], settings["train.replay"]) == (7, 0.9)
    command = run.command(["data.balance=false", "train.replay=0"])
    assert command[:5] == ["dvc", "exp", "run", "-n", run.name]
    assert command[-4:] == ["-S", "data.balance=false", "-S", "train.replay=0"]
    assert "train.replay=0.9" not in command  # the user's value replaces the recipe's
    assert "train.init_from=models/champion" in command
    assert "train.augment.resize.filters=[bilinear,bicubic,area,lanczos3]" in command


def test_values_are_written_as_the_override_grammar_reads_them() -> None:
    assert _value("adamw") == "adamw" and _value("models:/name@champion") == "models:/name@champion"
    assert _value("two words") == '"two words"'
    assert _value([30, 95]) == "[30,95]" and _value(None) == "null" and _value(True) == "true"
    assert _value(0.0001) == "0.0001"
