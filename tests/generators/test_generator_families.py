"""Every generator family builds, trains an epoch, resumes after an interruption exactly where
an uninterrupted run would be, and samples uint8 images that depend only on the seed."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fakeimage.config import GeneratorParams
from fakeimage.startup import import_tensorflow

import_tensorflow()

from fakeimage.generators.base import PROGRESS_FILE, train  # noqa: E402
from fakeimage.generators.families import build_model  # noqa: E402

REAL = np.random.default_rng(0).integers(0, 256, (32, 32, 32, 3), dtype=np.uint8)
"""A few dozen stand-in REAL images: what is checked here is the machinery, not the quality."""


def _settings(family: str) -> GeneratorParams:
    steps = {"sampling_steps": 3} if family == "ddpm" else {}
    return GeneratorParams(family=family, width=8, batch_size=16, seed=3, **steps)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "family",
    [
        "dcgan",
        "vae",
        pytest.param("upsample_gan", marks=pytest.mark.slow),
        pytest.param("ddpm", marks=pytest.mark.slow),
    ],
)
def test_a_resumed_run_ends_where_an_uninterrupted_one_does(family: str, tmp_path: Path) -> None:
    # Two models, not three (each traces its training step, seconds for the U-Net): one trains
    # an epoch, leaves the checkpoint a process killed then would leave, and goes on; a fresh
    # one (a new process: its own weights, then the checkpoint) resumes from that copy.
    settings = _settings(family)
    straight = build_model(settings)
    first = train(straight, REAL, 1, tmp_path / "straight")
    assert (first.epochs, first.epochs_this_session) == (1, 1)
    shutil.copytree(tmp_path / "straight", tmp_path / "stopped")
    whole = train(straight, REAL, 2, tmp_path / "straight")
    assert whole.images_per_second > 0 and all(len(v) == 2 for v in whole.history.values())

    resumed_model = build_model(settings)
    resumed = train(resumed_model, REAL, 2, tmp_path / "stopped")
    assert (resumed.epochs, resumed.epochs_this_session) == (2, 1)
    assert (tmp_path / "stopped" / PROGRESS_FILE).is_file()
    assert resumed.history == whole.history
    for ours, theirs in zip(resumed_model.variables(), straight.variables(), strict=True):
        np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))

    images = resumed_model.sample(6, seed=11)
    assert images.shape == (6, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, resumed_model.sample(6, seed=11))
    assert not np.array_equal(images, resumed_model.sample(6, seed=12))


@pytest.mark.timeout(60)
def test_a_checkpoint_of_other_settings_or_images_is_not_resumed(tmp_path: Path) -> None:
    settings = _settings("vae")
    train(build_model(settings), REAL, 1, tmp_path)
    other = build_model(settings.model_copy(update={"seed": 4}))  # one model: what is checked
    # here is whether the checkpoint is taken up, and each build traces its step again
    assert train(other, REAL, 1, tmp_path).epochs_this_session == 1
    assert train(other, REAL[::-1], 1, tmp_path).epochs_this_session == 1
    assert train(other, REAL[::-1], 1, tmp_path).epochs_this_session == 0
    # more samples or more epochs later do not change what was trained: resumed
    more = other.settings.model_copy(update={"samples_train": 9, "epochs": 5})
    assert train(build_model(more), REAL[::-1], 1, tmp_path).epochs_this_session == 0
    # fewer epochs than the checkpoint holds cannot be had from it: trained again
    assert train(other, REAL[::-1], 2, tmp_path).epochs_this_session == 1
    assert train(other, REAL[::-1], 1, tmp_path).epochs_this_session == 1


@pytest.mark.timeout(60)
def test_ddim_with_the_exact_prediction_returns_the_one_training_image() -> None:
    """For a data set of one image the best prediction is known in closed form; DDIM fed
    with it must land on that image, whatever the number of steps."""
    import tensorflow as tf

    model = build_model(_settings("ddpm").model_copy(update={"sampling_steps": 4}))
    target = REAL[0].astype(np.float64) / 127.5 - 1

    def exact(x: np.ndarray, t: np.ndarray) -> tf.Tensor:
        level = model.alpha_bar[t.astype(int)].reshape(-1, 1, 1, 1)
        noise = (x - np.sqrt(level) * target) / np.sqrt(1 - level)
        return tf.constant(np.sqrt(level) * noise - np.sqrt(1 - level) * target)

    model.predict_velocity = exact
    np.testing.assert_allclose(model.sample(3, seed=0).astype(int), REAL[[0, 0, 0]], atol=1)


@pytest.mark.timeout(30)
def test_spectral_normalisation_bounds_the_kernel_s_largest_singular_value() -> None:
    from fakeimage.generators.gan import SpectralConv2D

    layer = SpectralConv2D(6, 3)
    x = np.random.default_rng(0).standard_normal((2, 8, 8, 4)).astype(np.float32)
    for _ in range(40):  # one power iteration per training call
        layer(x, training=True)
    matrix = np.asarray(layer.kernel).reshape(-1, 6)
    sigma = np.linalg.svd(matrix, compute_uv=False)[0]
    u = np.asarray(layer.u)
    v = u @ matrix.T / np.linalg.norm(u @ matrix.T)
    estimate = float((v @ matrix @ u.T).squeeze())
    assert estimate == pytest.approx(sigma, rel=0.02)
    assert np.asarray(layer(x)).shape == (2, 8, 8, 6)
