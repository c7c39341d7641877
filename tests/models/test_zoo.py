"""The model zoo and the shared inference helpers: shapes, scaling, size, saving, flip TTA."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from keras import layers

from fakeimage.config import ModelParams
from fakeimage.data.hashes import load_training_record, training_record
from fakeimage.detector.folder import (
    CARD_FILE,
    MARKDOWN_FILE,
    MODEL_FILE,
    TRAINING_IMAGES_FILE,
    copy_folder,
)
from fakeimage.errors import UserError
from fakeimage.models.keras_detector import load_detector, predict_proba, save_detector
from fakeimage.models.zoo import ARCHITECTURES, INPUT_SHAPE, build_model, count_macs
from tests.cards import make_card

SMALL = {"width": 12, "dropout": 0.5}  # keep the fidelity nets small: the tests need no capacity


def _images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, *INPUT_SHAPE), dtype=np.uint8)


@pytest.fixture(scope="module")
def seed_cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_model(ModelParams(arch="seed_cnn"))


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_maps_an_image_to_one_probability(arch: str) -> None:
    keras.utils.set_random_seed(0)
    model = build_model(ModelParams(arch=arch, **SMALL))
    assert model.name == arch
    assert tuple(model.input_shape) == (None, 32, 32, 3)
    assert tuple(model.output_shape) == (None, 1)
    probabilities = np.asarray(model(_images(5).astype(np.float32), training=False))
    assert probabilities.shape == (5, 1)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"


def test_seed_cnn_has_the_reference_parameter_count(seed_cnn: keras.Model) -> None:
    assert seed_cnn.count_params() == 159_041


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_first_layer_after_the_input_scales_0_255_to_0_1(arch: str) -> None:
    model = build_model(ModelParams(arch=arch, **SMALL))
    assert isinstance(model.layers[0], layers.InputLayer)
    first = model.layers[1]
    assert isinstance(first, layers.Rescaling)
    assert first.scale == pytest.approx(1 / 255) and first.offset == 0
    # Nothing but the input feeds it, and everything else sees its output only.
    assert first.input is model.inputs[0]
    ones = np.asarray(first(np.full((2, *INPUT_SHAPE), 255.0, np.float32)))
    np.testing.assert_allclose(ones, np.ones((2, *INPUT_SHAPE)), rtol=1e-6)
    images = _images(2)
    np.testing.assert_allclose(
        np.asarray(first(images.astype(np.float32))), images / 255.0, rtol=1e-6, atol=1e-7
    )


def test_count_macs_matches_a_hand_count_for_seed_cnn(seed_cnn: keras.Model) -> None:
    conv = (
        3 * 3 * 3 * 32 * 30 * 30  # 32x32 -> 30x30, then pooled to 15x15
        + 3 * 3 * 32 * 64 * 13 * 13  # -> 13x13, pooled to 6x6
        + 3 * 3 * 64 * 128 * 4 * 4  # -> 4x4, pooled to 2x2 -> 512 features
    )
    dense = 512 * 128 + 128 * 1
    assert count_macs(seed_cnn) == conv + dense


def test_fidelity_net_costs_more_than_seed_cnn(seed_cnn: keras.Model) -> None:
    seed_macs = count_macs(seed_cnn)
    fidelity = build_model(ModelParams(arch="fidelity_net", width=32))
    assert seed_macs > 0
    assert count_macs(fidelity) > seed_macs
    assert isinstance(count_macs(fidelity), int)


def test_depth_adds_blocks_only_to_the_down_sampled_stages() -> None:
    shallow = build_model(ModelParams(arch="fidelity_net", width=16, depth=1))
    deep = build_model(ModelParams(arch="fidelity_net", width=16, depth=2))
    # one extra block per stage: two 3x3 convs at 32 channels (16x16) and at 64 (8x8)
    extra_macs = 2 * 9 * 32 * 32 * 16 * 16 + 2 * 9 * 64 * 64 * 8 * 8
    assert count_macs(deep) - count_macs(shallow) == extra_macs
    full_resolution = [
        layer
        for model in (shallow, deep)
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.output.shape[1] == 32
    ]
    assert len(full_resolution) == 2 * 3  # stem + one block of two convs, in both


def test_resnet_18_with_a_cifar_stem_has_its_shape_and_size() -> None:
    model = build_model(ModelParams(arch="resnet", width=64, depth=2, dropout=0.0))
    # ResNet-18 on CIFAR: 11.17M parameters, 0.56G multiply-adds at 32x32
    assert 11_150_000 < model.count_params() < 11_200_000
    assert 550_000_000 < count_macs(model) < 560_000_000
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len([c for c in convs if c.kernel.shape[0] == 3]) == 17  # stem + 8 blocks of 2
    sides = sorted({c.output.shape[1] for c in convs})
    assert sides == [4, 8, 16, 32]  # no pooling in the stem: four stages from 32x32
    folded = build_model(ModelParams(arch="resnet", width=64, depth=2, stem="space_to_depth"))
    assert sorted(
        {c.output.shape[1] for c in folded.layers if isinstance(c, keras.layers.Conv2D)}
    ) == [2, 4, 8, 16]
    assert count_macs(folded) < count_macs(model) / 3


def test_space_to_depth_stem_runs_the_stages_at_half_resolution_and_loses_nothing() -> None:
    full = build_model(ModelParams(arch="fidelity_net", width=16))
    folded = build_model(ModelParams(arch="fidelity_net", width=16, stem="space_to_depth"))
    conv_sizes = {
        layer.output.shape[1] for layer in folded.layers if isinstance(layer, layers.Conv2D)
    }
    assert conv_sizes == {16, 8, 4}  # no convolution at 32x32
    stem = next(layer for layer in folded.layers if isinstance(layer, layers.Conv2D))
    assert stem.kernel.shape[2] == 12  # each 2x2 block of RGB pixels, as channels
    assert count_macs(folded) < count_macs(full)

    # The fold is a permutation: every pixel value of the image survives, each 2x2 block
    # lands in one position, and nothing else is mixed in.
    fold = keras.Model(folded.inputs, folded.get_layer("space_to_depth").output)
    images = _images(2, seed=3)
    folded_images = np.asarray(fold(images.astype(np.float32)))
    assert folded_images.shape == (2, 16, 16, 12)
    np.testing.assert_allclose(
        np.sort(folded_images.reshape(2, -1), axis=1),
        np.sort(images.reshape(2, -1) / 255.0, axis=1),
        rtol=1e-6,
    )
    block = images[0, 2:4, 6:8, :] / 255.0  # the 2x2 block at row 1, column 3 of the fold
    np.testing.assert_allclose(np.sort(folded_images[0, 1, 3]), np.sort(block.ravel()), rtol=1e-6)


def test_saved_and_loaded_detector_predicts_identically(
    seed_cnn: keras.Model, tmp_path: Path
) -> None:
    images = _images(16, seed=1)
    before = predict_proba(seed_cnn, images)
    card = make_card(name="detector", version="7")
    record = training_record(images[:4])
    folder = tmp_path / "detector"
    save_detector(folder, seed_cnn, card, record)
    expected = {MARKDOWN_FILE, MODEL_FILE, CARD_FILE, TRAINING_IMAGES_FILE}
    assert {p.name for p in folder.iterdir()} == expected
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left

    detector = load_detector(folder)
    assert detector.card == card and detector.threshold == pytest.approx(0.4321)
    assert (detector.name, detector.version) == ("detector", "7")
    np.testing.assert_array_equal(detector.predict_proba(images), before)
    np.testing.assert_array_equal(load_training_record(folder / TRAINING_IMAGES_FILE), record)

    # A bare .keras file is not a detector: it has no card to say how to read its scores.
    with pytest.raises(UserError, match=r"card\.json"):
        load_detector(folder / MODEL_FILE)
    # Writing again replaces the folder whole.
    copy_folder(folder, folder, make_card(version="8", evaluated=False))
    assert load_detector(folder).version == "8"
    assert not (folder / MARKDOWN_FILE).exists()  # only an evaluated card is rendered


def test_load_detector_refuses_missing_models(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        load_detector(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError):
        load_detector(tmp_path / "empty")


def test_precision_builds_under_a_policy_and_restores_the_previous_one() -> None:
    from fakeimage.models.zoo import build_model, precision

    before = keras.mixed_precision.global_policy().name
    with precision("mixed_bfloat16"):
        model = build_model(ModelParams())
    assert keras.mixed_precision.global_policy().name == before
    assert model.layers[1].compute_dtype == "bfloat16"
    assert model.get_layer("prob_fake").compute_dtype == "float32"  # probabilities stay exact
    with pytest.raises(RuntimeError), precision("mixed_bfloat16"):
        raise RuntimeError("a failed build")
    assert keras.mixed_precision.global_policy().name == before


def test_for_serving_turns_a_mixed_precision_trained_model_into_a_small_float32_one(
    tmp_path: Path,
) -> None:
    from fakeimage.models.zoo import for_serving, precision

    keras.utils.set_random_seed(0)
    with precision("mixed_bfloat16"):
        trained = build_model(ModelParams(arch="seed_cnn"))
    trained.compile(optimizer="adam", loss="binary_crossentropy")
    images, labels = _images(16), np.arange(16) % 2
    trained.fit(images, labels, epochs=1, verbose=0)
    trained.predict(images, verbose=0)  # a predict function traced in bfloat16
    trained.save(tmp_path / "with-optimizer.keras")

    served = for_serving(trained)
    assert served is trained  # the same model, not a rebuilt copy
    assert {layer.compute_dtype for layer in served.layers} == {"float32"}
    with precision("float32"):
        rebuilt = build_model(ModelParams(arch="seed_cnn"))
    rebuilt.set_weights(served.get_weights())
    np.testing.assert_allclose(
        served.predict(images, verbose=0), rebuilt.predict(images, verbose=0), rtol=1e-6
    )
    served.save(tmp_path / "served.keras")
    loaded = keras.saving.load_model(tmp_path / "served.keras")
    assert not loaded.compiled and getattr(loaded, "optimizer", None) is None
    assert {layer.compute_dtype for layer in loaded.layers} == {"float32"}
    # Adam's two slots per weight are gone: about a third of the size
    size = (tmp_path / "served.keras").stat().st_size
    assert size < 0.5 * (tmp_path / "with-optimizer.keras").stat().st_size
