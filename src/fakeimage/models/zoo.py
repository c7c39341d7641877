"""The model zoo: Keras builders chosen by `model.arch` in params.yaml.

Every model takes the preprocessed image as it is stored, values 0..255 in a (32, 32, 3)
tensor, and scales it to [0, 1] in its first layer, so training and serving cannot disagree
on scaling. Every model ends in one sigmoid unit: P(FAKE).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import keras
from keras import layers

from fakeimage.config import ModelParams
from fakeimage.data.images import IMAGE_SIZE

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(INPUT_SHAPE, name="image")
    return inputs, layers.Rescaling(1.0 / 255.0, name="scale_0_1")(inputs)


def _head(features: keras.KerasTensor) -> keras.KerasTensor:
    # float32 output even under mixed precision, so probabilities are not rounded to bf16.
    return layers.Dense(1, activation="sigmoid", dtype="float32", name="prob_fake")(features)


def seed_cnn(params: ModelParams) -> keras.Model:
    """The original project's network, kept as the reference point (159,041 parameters).

    Three conv + max-pool stages halve the resolution right after each convolution, which
    discards much of the high-frequency detail that gives generated images away.
    """
    inputs, x = _inputs()
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(params.dropout)(x)
    return keras.Model(inputs, _head(x), name="seed_cnn")


def _conv_bn(x: keras.KerasTensor, filters: int, strides: int = 1) -> keras.KerasTensor:
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    return layers.Activation("relu")(x)


def _squeeze_excite(x: keras.KerasTensor, ratio: int = 4) -> keras.KerasTensor:
    """Channel attention: let global context re-weight which detectors matter."""
    filters = x.shape[-1]
    scale = layers.GlobalAveragePooling2D(keepdims=True)(x)
    scale = layers.Conv2D(max(filters // ratio, 4), 1, activation="relu")(scale)
    scale = layers.Conv2D(filters, 1, activation="sigmoid")(scale)
    return layers.Multiply()([x, scale])


def _residual_block(
    x: keras.KerasTensor, filters: int, strides: int, squeeze_excite: bool
) -> keras.KerasTensor:
    shortcut = x
    y = _conv_bn(x, filters, strides)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False)(y)
    y = layers.BatchNormalization()(y)
    if squeeze_excite:
        y = _squeeze_excite(y)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=strides, use_bias=False)(shortcut)
        shortcut = layers.BatchNormalization()(shortcut)
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


def _space_to_depth(x: keras.KerasTensor) -> keras.KerasTensor:
    """Fold every 2x2 block of pixels into channels: 32x32x3 becomes 16x16x12, losslessly."""
    half, channels = x.shape[1] // 2, x.shape[-1]
    x = layers.Reshape((half, 2, half, 2, channels))(x)
    x = layers.Permute((1, 3, 2, 4, 5))(x)
    return layers.Reshape((half, half, 4 * channels), name="space_to_depth")(x)


def _fidelity(params: ModelParams, squeeze_excite: bool, name: str) -> keras.Model:
    """A residual CNN whose first stage sees every pixel before anything is discarded.

    A generator's traces are fine, high-frequency patterns, so nothing is pooled or strided
    away before the first stage: with `stem: full` the stem and first stage run at 32x32; with
    `stem: space_to_depth` each 2x2 block of pixels becomes 12 channels and the stages run at
    16x16, 8x8 and 4x4 (nothing is lost, a 3x3 convolution then spans 6x6 pixels, and the
    wider, smaller layers use the CPU's matrix units far better for the same multiply-adds).
    Down-sampling is by strided convolutions (learned), not max-pooling, and global average
    pooling keeps the head small. `depth` adds blocks to the two down-sampled stages.
    """
    width = params.width
    inputs, x = _inputs()
    if params.stem == "space_to_depth":
        x = _space_to_depth(x)
    x = _conv_bn(x, width)
    x = _residual_block(x, width, 1, squeeze_excite)
    for filters in (2 * width, 4 * width):
        x = _residual_block(x, filters, 2, squeeze_excite)
        for _ in range(params.depth - 1):
            x = _residual_block(x, filters, 1, squeeze_excite)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(params.dropout)(x)
    return keras.Model(inputs, _head(x), name=name)


def fidelity_net(params: ModelParams) -> keras.Model:
    return _fidelity(params, squeeze_excite=False, name="fidelity_net")


def fidelity_se_net(params: ModelParams) -> keras.Model:
    return _fidelity(params, squeeze_excite=True, name="fidelity_se_net")


def resnet(params: ModelParams) -> keras.Model:
    """A ResNet with a CIFAR stem: four stages of `depth` basic blocks (width, 2x, 4x, 8x).

    The shape of the ResNet-18 that, trained on a GPU, is both as accurate as the reference and
    robust to blur and resizing (`depth: 2`, `width: 64`: 11M parameters). The CIFAR stem is one
    3x3 convolution without pooling; `stem: space_to_depth` starts it at 16x16 instead, a
    quarter of the multiply-adds, so a CPU can train it (see `make bench`).
    """
    width = params.width
    inputs, x = _inputs()
    if params.stem == "space_to_depth":
        x = _space_to_depth(x)
    x = _conv_bn(x, width)
    for stage, filters in enumerate((width, 2 * width, 4 * width, 8 * width)):
        for block in range(params.depth):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _residual_block(x, filters, strides, squeeze_excite=False)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(params.dropout)(x)
    return keras.Model(inputs, _head(x), name="resnet")


ARCHITECTURES: dict[str, Callable[[ModelParams], keras.Model]] = {
    "seed_cnn": seed_cnn,
    "fidelity_net": fidelity_net,
    "fidelity_se_net": fidelity_se_net,
    "resnet": resnet,
}


def build_model(params: ModelParams) -> keras.Model:
    return ARCHITECTURES[params.arch](params)


@contextmanager
def precision(policy: str) -> Iterator[None]:
    """Build models under Keras' dtype policy `policy`; the previous one is restored after.

    The only place the project changes Keras' global policy: models keep the policy they
    were built with, so nothing else needs it.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def for_serving(model: keras.Model) -> keras.Model:
    """Make a trained model the one the project saves: float32 compute, no optimizer state.

    Training may run in mixed precision and leaves the optimizer's slots and compile settings
    on the model; the shipped model should be small and compute in float32 on any CPU. Done in
    place (the weights are already float32 under mixed precision), so each model is built once.
    """
    for layer in (model, *model.layers):
        layer.dtype_policy = "float32"
    model.optimizer = None
    model.compiled = False
    # functions traced during training would go on computing in the training dtype
    model.train_function = model.test_function = model.predict_function = None
    return model


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass over Conv2D and Dense layers (the bulk)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
            _, out_h, out_w, _ = layer.output.shape
            total += kernel_h * kernel_w * channels_in * channels_out * out_h * out_w
        elif isinstance(layer, layers.Dense):
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
    return int(total)
