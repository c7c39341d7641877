"""Grad-CAM: target layer choice, heatmap shape and range, and the PNG overlay."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
from PIL import Image

from fakeimage.config import ModelParams
from fakeimage.models import zoo
from fakeimage.serving import gradcam

PIXELS = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def models() -> dict[str, keras.Model]:
    keras.utils.set_random_seed(1)
    # width 16 keeps them small; width <= 8 crashes TensorFlow 2.21's oneDNN conv backprop on
    # this CPU (segfault in any gradient, training included), so stay clear of it
    params = ModelParams(width=16)
    return {name: build(params) for name, build in zoo.ARCHITECTURES.items()}


def test_target_layer_is_the_last_spatial_conv_map(models: dict[str, keras.Model]) -> None:
    seed = gradcam.find_target_layer(models["seed_cnn"])
    assert isinstance(seed, keras.layers.Conv2D)
    assert tuple(seed.output.shape[1:3]) == (4, 4)  # the last conv, before its max-pooling
    for name in ("fidelity_net", "fidelity_se_net"):
        layer = gradcam.find_target_layer(models[name])
        # the output of the last residual block (ReLU after the add), not a 1x1 SE conv
        assert isinstance(layer, keras.layers.Activation), name
        assert tuple(layer.output.shape[1:3]) == (8, 8), name


@pytest.mark.parametrize("name", list(zoo.ARCHITECTURES))
@pytest.mark.parametrize("explain_fake", [True, False])
def test_heatmap_shape_and_range(
    models: dict[str, keras.Model], name: str, explain_fake: bool
) -> None:
    heat = gradcam.heatmap(gradcam.gradient_model(models[name]), PIXELS, explain_fake=explain_fake)
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert np.isfinite(heat).all()
    assert heat.min() >= 0.0 and heat.max() <= 1.0


def test_fake_and_real_explanations_differ(models: dict[str, keras.Model]) -> None:
    grads = gradcam.gradient_model(models["fidelity_net"])
    fake = gradcam.heatmap(grads, PIXELS, explain_fake=True)
    real = gradcam.heatmap(grads, PIXELS, explain_fake=False)
    assert not np.allclose(fake, real)


def test_heatmap_rejects_wrong_shapes(models: dict[str, keras.Model]) -> None:
    with pytest.raises(ValueError, match="32, 32, 3"):
        gradcam.heatmap(gradcam.gradient_model(models["seed_cnn"]), PIXELS[:16], explain_fake=True)


def test_model_without_convolution_is_refused() -> None:
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="no convolution"):
        gradcam.find_target_layer(keras.Model(inputs, outputs))


def test_overlay_is_an_upscaled_rgb_png() -> None:
    heat = np.zeros((32, 32), np.float32)
    heat[:16, :16] = 1.0
    image = gradcam.overlay(PIXELS, heat)
    assert image.size == (256, 256) and image.mode == "RGB"
    array = np.asarray(image).astype(int)
    # hot corner is tinted red by the jet colormap, cold corner blue
    assert array[:64, :64, 0].mean() > array[:64, :64, 2].mean()
    assert array[-64:, -64:, 2].mean() > array[-64:, -64:, 0].mean()
    data = gradcam.png_bytes(image)
    assert data.startswith(b"\x89PNG")
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "PNG" and decoded.size == (256, 256)


def test_overlay_without_heat_keeps_the_input_visible() -> None:
    image = gradcam.overlay(PIXELS, np.zeros((32, 32), np.float32), size=64, alpha=0.0)
    np.testing.assert_array_equal(np.asarray(image)[::2, ::2], PIXELS)
