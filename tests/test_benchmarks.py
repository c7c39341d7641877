"""`make bench` helpers that read the shipped reference: they must keep up with its card."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pytest

from benchmarks.reference_epoch import reference_recipe, seconds_per_epoch
from fakeimage.config import ModelParams, TrainParams
from fakeimage.paths import REFERENCE_DIR


def test_the_reference_recipe_is_read_from_its_card() -> None:
    model, train, card = reference_recipe()
    recorded = json.loads((REFERENCE_DIR / "card.json").read_text())["params"]
    assert card.training.epochs_run > 0 and card.data.splits["train"].total > 0
    assert model.arch == recorded["model"]["arch"] == "fidelity_se_net"
    assert model.width == recorded["model"]["width"]
    assert model.stem == recorded["model"]["stem"]
    assert train.batch_size == recorded["train"]["batch_size"]
    assert train.augment.crop_padding == recorded["train"]["augment"]["crop_padding"]


def test_an_epoch_estimate_scales_measured_steps_and_restores_float32() -> None:
    train = TrainParams(batch_size=16)
    step_ms, epoch_s = seconds_per_epoch(
        ModelParams(arch="seed_cnn"), train, "float32", n_train=1600, n_val=160, steps=2
    )
    assert step_ms > 0
    assert epoch_s > 100 * step_ms / 1000  # 100 training steps, plus validation
    assert keras.mixed_precision.global_policy().name == "float32"


@pytest.mark.slow
def test_the_training_throughput_benchmark_measures_every_row() -> None:
    from benchmarks.train_throughput import measure

    result = measure(3)  # each row built and timed: a broken one raises
    assert set(result) == {"ceiling", "pipeline", "degraded", "notebook"}
    assert all(rate > 0 for rate in result.values())


def test_the_latency_floor_row_builds(tmp_path: Path) -> None:
    """The serving benchmark's floor: its figures, the one-thread forward pass, the bare service."""
    import numpy as np

    from benchmarks import bare_service
    from benchmarks.latency_floor import Floor, forward_ms, one_thread_session
    from benchmarks.serving import Plan
    from tests.cards import save_servable_detector

    floor = Floor(service_ms=3.3, bare_ms=1.0, forward_ms=2.0)
    assert floor.ratio == pytest.approx(1.1)
    assert "(i)/((ii)+(iii)) = 1.100" in floor.describe()
    session = one_thread_session(save_servable_detector(tmp_path / "detector"))
    pixels = np.zeros((4, 32, 32, 3), np.uint8)
    assert forward_ms(session, pixels, calls=5) > 0
    assert Plan.of(quick=True, soak_seconds=None).floor_rounds >= 3
    assert list(bare_service.BareUpload.apis) == ["predict"]


@pytest.mark.slow
def test_the_cli_benchmark_times_one_image_a_folder_and_tensorflow(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from benchmarks import cli

    if not cli.SAMPLE.is_file():
        pytest.skip(f"{cli.SAMPLE} not found")
    cli.main(["--calls", "1", "--images", "12"])
    out = capsys.readouterr().out
    assert "| 1 image (median of 1) |" in out and "| a folder of 12 images |" in out
    assert "| `python -c 'import tensorflow'` |" in out and "each further image" in out


def test_the_answer_log_cost_is_measured_per_answer(tmp_path: Path) -> None:
    from benchmarks.answer_log import observe_us

    assert observe_us(tmp_path, answers=50) > 0
    assert list((tmp_path / "answers").glob("answers-*.jsonl"))
