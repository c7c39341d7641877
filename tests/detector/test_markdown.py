"""The Markdown model card: rendered from the typed card, every section filled in."""

from __future__ import annotations

import pytest

from fakeimage.detector.card import Lineage, ParentModel, Replay, SourceScores
from fakeimage.detector.markdown import render_model_card
from tests.cards import EVALUATION, TEST_SCORES, make_card


@pytest.fixture
def card() -> str:
    return render_model_card(make_card())


def _section(card: str, title: str) -> str:
    return card.split(f"## {title}", 1)[1].split("\n## ", 1)[0]


def test_header_names_the_model_version_and_threshold(card: str) -> None:
    assert card.startswith("# Model card: fake-image-detector (version 3)")
    assert ">= 0.4321" in card and "(max_accuracy)" in card
    assert "`seed_cnn`, 159,041 parameters" in card
    assert "5.1 M multiply-accumulates" in card
    assert "trained 10 epochs (best weights from epoch 8)" in card
    assert "1.6 minutes" in card and "Test CPU, 2 cores, in `mixed_bfloat16`" in card
    assert make_card().run_id in card


def test_data_section_has_the_source_fingerprint_and_splits(card: str) -> None:
    data = _section(card, "Data")
    assert "source: archive" in data and "f" * 16 in data and "f" * 17 not in data
    assert "| split | REAL | FAKE | total |" in data
    assert "| train | 8,100 | 8,100 | 16,200 |" in data
    assert "| test | 1,000 | 1,000 | 2,000 |" in data


def test_metrics_table_lists_every_test_metric(card: str) -> None:
    metrics = _section(card, "Test metrics")
    assert "| metric | value |" in metrics
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "log_loss", "ece"):
        assert f"| {key} | {getattr(TEST_SCORES, key):.4f} |" in metrics
    assert "| accuracy | 0.9135 |" in metrics  # test, not validation (0.92)
    assert "897 REAL and 930 FAKE right; 103 REAL called FAKE, 70 FAKE" in metrics
    assert "(2,000 images)" in metrics


def test_robustness_table_has_a_row_per_corruption(card: str) -> None:
    robustness = _section(card, "Robustness")
    assert "| corruption | accuracy | F1 | ROC-AUC |" in robustness
    assert "| jpeg_q75 | 0.8123 | 0.8000 | 0.9000 |" in robustness
    assert "| blur_r0.8 | 0.6001 | 0.5000 | 0.7000 |" in robustness


def test_limits_params_and_reproduce_command(card: str) -> None:
    limits = _section(card, "Known limits")
    assert "32x32" in limits and "Stable Diffusion v1.4" in limits
    assert "trained on\": its data's FAKE images" in limits and "held out" not in limits
    params = _section(card, "Training parameters")
    assert "| model.arch | `seed_cnn` |" in params
    assert "| train.learning_rate | `0.001` |" in params
    reproduce = _section(card, "Reproduce")
    assert "```\ngit checkout abc123 && dvc repro\n```" in reproduce


def test_limits_name_the_generators_learnt_and_those_only_scored() -> None:
    """Learnt: what the training split held (per the card); a source scored in test but never
    trained on (held out by weight 0, or given as test images only) is named apart."""
    scores = SourceScores(n=10, accuracy=0.9, uncertain=0.0, confidently_wrong=0.1,
                          certain_accuracy=0.9)  # fmt: skip
    names = ["REAL", "FAKE", "FAKE/dcgan", "FAKE/vae", "FAKE/ddpm", "all"]
    card = make_card(evaluation=EVALUATION.replace(sources=dict.fromkeys(names, scores)))
    trained = {"REAL": 30, "FAKE": 20, "FAKE/dcgan": 5, "FAKE/vae": 5}
    card = card.replace(data=card.data.replace(trained_sources=trained))
    limits = _section(render_model_card(card), "Known limits")
    flat = " ".join(limits.split())
    assert "the data's own FAKE images and `FAKE/dcgan`, `FAKE/vae` (with CIFAKE" in flat
    assert "Scored but never trained on: `FAKE/ddpm`." in flat
    assert max(len(line) for line in limits.splitlines()) <= 92
    only_zoo = card.replace(data=card.data.replace(trained_sources={"REAL": 9, "FAKE/vae": 9}))
    flat = " ".join(_section(render_model_card(only_zoo), "Known limits").split())
    assert 'trained on": `FAKE/vae` (with' in flat
    assert "Scored but never trained on: `FAKE`, `FAKE/dcgan`, `FAKE/ddpm`." in flat


def test_lineage_says_where_the_model_came_from() -> None:
    assert "promotion: there is no champion yet" in _section(
        render_model_card(make_card()), "Lineage"
    )
    imported = make_card(lineage=Lineage(imported=True, imported_from="models/reference"))
    assert "imported into the registry from `models/reference`" in render_model_card(imported)
    plain = make_card(lineage=Lineage())
    assert "trained from scratch by the pipeline" in render_model_card(plain)
    parent = ParentModel(location="models/champion", name="fake-image-detector", version="3")
    replay = Replay(share=0.9, new={"FAKE/vae": 180}, replayed={"REAL": 900, "FAKE": 720})
    rehearsed = make_card(lineage=Lineage(parent=parent, replay=replay))
    lineage = " ".join(_section(render_model_card(rehearsed), "Lineage").split())
    assert "fine-tuned from fake-image-detector version 3 (`models/champion`" in lineage
    assert "rehearsal: learnt FAKE/vae (180) beside 1,620 images replayed" in lineage
    assert "(90% of the set)" in lineage


def test_an_unevaluated_card_has_no_markdown() -> None:
    with pytest.raises(ValueError, match="no evaluation"):
        render_model_card(make_card(evaluated=False))


def test_settings_a_card_predates_and_the_learn_section_are_not_claimed() -> None:
    card = make_card()
    table = _section(render_model_card(card), "Training parameters")
    assert "| promote.source_tolerance | `0.003` |" in table
    assert "learn." not in table  # shapes the runs `fakeimage learn` starts, not this one
    older = card.model_dump(mode="json")
    del older["params"]["promote"]["source_tolerance"]  # written before the setting existed
    table = _section(render_model_card(type(card).model_validate(older)), "Training parameters")
    assert "source_tolerance" not in table and "| promote.min_unseen_images |" in table
