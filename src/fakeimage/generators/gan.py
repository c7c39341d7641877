"""Two GAN families whose generators enlarge images in different ways, so their traces differ.

- `dcgan` (Radford et al. 2016): transposed 4x4 convolutions with stride 2, batch norm, a
  batch-normed convolutional discriminator and the non-saturating loss; Adam 2e-4, beta1 0.5.
- `upsample_gan`: nearest-neighbour enlargement then a 3x3 convolution (the resize-convolution
  of Odena et al. 2016, which has no checkerboard), against SNGAN's stronger discriminator
  recipe (Miyato et al. 2018): twice the layers, spectral normalisation and the hinge loss,
  with one discriminator step per generator step (their setting C). Spectral normalisation
  was chosen over a gradient penalty because it costs one power iteration per layer, while
  WGAN-GP or R1 double every discriminator step with second-order gradients: on a 2-core CPU
  that would halve the steps the zoo's budget buys.

Noise is drawn from the seeded numpy generator the training loop passes in and fed to one
traced step, so training is reproducible under op determinism.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fakeimage.config import GeneratorParams
from fakeimage.generators.base import GenerativeModel, optimizer_variables

LATENT_DIM = 128
BN_MOMENTUM = 0.9
"""Sampling uses the moving statistics: they must follow a short run's generator closely."""


def _project(width: int) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """z -> a 4x4 map of 4*width channels, batch-normed, the start of both generators."""
    z = keras.Input((LATENT_DIM,))
    x = layers.Dense(4 * 4 * 4 * width, use_bias=False)(z)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return z, layers.Reshape((4, 4, 4 * width))(layers.ReLU()(x))


def transposed_generator(width: int) -> keras.Model:
    """4x4 -> 32x32 with three stride-2 4x4 transposed convolutions (tanh out)."""
    z, x = _project(width)
    for filters in (2 * width, width):
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    out = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(z, out, name="dcgan_generator")


def upsample_generator(width: int) -> keras.Model:
    """4x4 -> 32x32 by three nearest-neighbour doublings, each followed by a 3x3 convolution."""
    z, x = _project(width)
    for filters in (4 * width, 2 * width, width):
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=BN_MOMENTUM)(x))
    out = layers.Conv2D(3, 3, padding="same", activation="tanh")(x)
    return keras.Model(z, out, name="upsample_generator")


def _leaky(x: keras.KerasTensor, slope: float) -> keras.KerasTensor:
    """Leaky ReLU as max(x, slope * x): TF 2.21's grappler fails to fuse a biased convolution
    with a LeakyRelu under a gradient tape (and says so on stderr at every trace)."""
    return keras.ops.maximum(x, slope * x)


def dcgan_discriminator(width: int) -> keras.Model:
    """32x32 -> one logit: three stride-2 4x4 convolutions, leaky ReLU, batch norm."""
    image = keras.Input((32, 32, 3))
    x = _leaky(layers.Conv2D(width, 4, strides=2, padding="same")(image), 0.2)
    for filters in (2 * width, 4 * width):
        x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False)(x)
        x = _leaky(layers.BatchNormalization()(x), 0.2)
    return keras.Model(image, layers.Dense(1)(layers.Flatten()(x)), name="dcgan_discriminator")


class SpectralConv2D(layers.Layer):
    """A convolution whose kernel is divided by its largest singular value, estimated by one
    power iteration per training call, with gradients through that value as in the paper
    (Keras' SpectralNormalization instead overwrites the kernel with the divided one)."""

    def __init__(self, filters: int, kernel_size: int, strides: int = 1, padding: str = "same"):
        super().__init__()
        self.filters, self.kernel_size = filters, kernel_size
        self.strides, self.padding = strides, padding

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = (self.kernel_size, self.kernel_size, input_shape[-1], self.filters)
        self.kernel = self.add_weight(shape=shape, initializer="glorot_uniform")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros")
        self.u = self.add_weight(shape=(1, self.filters), initializer="random_normal")
        self.u.trainable = False

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        matrix = tf.reshape(self.kernel, (-1, self.filters))
        v = tf.math.l2_normalize(tf.matmul(self.u, matrix, transpose_b=True))
        u = tf.stop_gradient(tf.math.l2_normalize(tf.matmul(v, matrix)))
        v = tf.stop_gradient(v)
        if training:
            self.u.assign(u)
        sigma = tf.squeeze(tf.matmul(tf.matmul(v, matrix), u, transpose_b=True))
        strides = (self.strides, self.strides)
        out = tf.nn.conv2d(inputs, self.kernel / sigma, strides, self.padding.upper())
        return out + self.bias


def sn_discriminator(width: int) -> keras.Model:
    """SNGAN's CIFAR discriminator: 3x3 then 4x4 stride-2 pairs, every layer spectrally
    normalised, leaky ReLU 0.1, no batch norm; the last layer, a 4x4 valid convolution, is
    its dense layer."""
    image = keras.Input((32, 32, 3))
    x = image
    for filters in (width, 2 * width, 4 * width):
        for kernel, strides in ((3, 1), (4, 2)):
            x = _leaky(SpectralConv2D(filters, kernel, strides)(x), 0.1)
    x = _leaky(SpectralConv2D(8 * width, 3)(x), 0.1)
    logit = layers.Flatten()(SpectralConv2D(1, 4, padding="valid")(x))
    return keras.Model(image, logit, name="sn_discriminator")


def _non_saturating(real: tf.Tensor, fake: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(discriminator, generator) losses of the original GAN, the generator's non-saturating."""
    bce = tf.nn.sigmoid_cross_entropy_with_logits
    d_loss = tf.reduce_mean(bce(tf.ones_like(real), real)) + tf.reduce_mean(
        bce(tf.zeros_like(fake), fake)
    )
    return d_loss, tf.reduce_mean(bce(tf.ones_like(fake), fake))


def _hinge(real: tf.Tensor, fake: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    d_loss = tf.reduce_mean(tf.nn.relu(1.0 - real)) + tf.reduce_mean(tf.nn.relu(1.0 + fake))
    return d_loss, -tf.reduce_mean(fake)


Loss = Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


class Gan(GenerativeModel):
    """A generator and a discriminator trained in turn, one step each per batch."""

    def __init__(
        self,
        settings: GeneratorParams,
        generator: Callable[[int], keras.Model],
        discriminator: Callable[[int], keras.Model],
        loss: Loss,
    ) -> None:
        super().__init__(settings)
        self.generator = generator(settings.width)
        self.discriminator = discriminator(settings.width)
        self.g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
        self._variables = [
            *self.generator.variables,
            *self.discriminator.variables,
            *optimizer_variables(self.g_optimizer, self.generator.trainable_variables),
            *optimizer_variables(self.d_optimizer, self.discriminator.trainable_variables),
        ]
        self._loss = loss
        self._step = tf.function(self._losses_after_step)

    def variables(self) -> list[keras.Variable]:
        return self._variables

    def _losses_after_step(self, real: tf.Tensor, noise: tf.Tensor) -> tuple[tf.Tensor, ...]:
        g_weights = self.generator.trainable_variables
        d_weights = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(noise, training=True)
            d_real = self.discriminator(real, training=True)
            d_fake = self.discriminator(fake, training=True)
            d_loss, _ = self._loss(d_real, d_fake)
        self.d_optimizer.apply(tape.gradient(d_loss, d_weights), d_weights)
        with tf.GradientTape() as tape:
            d_fake = self.discriminator(self.generator(noise, training=True), training=True)
            _, g_loss = self._loss(d_real, d_fake)
        self.g_optimizer.apply(tape.gradient(g_loss, g_weights), g_weights)
        return d_loss, g_loss

    def train_step(self, batch: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        noise = rng.standard_normal((len(batch), LATENT_DIM), dtype=np.float32)
        d_loss, g_loss = self._step(batch, noise)
        return {"d_loss": float(d_loss), "g_loss": float(g_loss)}

    def generate(self, noise_rng: np.random.Generator, count: int) -> np.ndarray:
        noise = noise_rng.standard_normal((count, LATENT_DIM), dtype=np.float32)
        return self.generator(noise, training=False).numpy()


def dcgan(settings: GeneratorParams) -> Gan:
    return Gan(settings, transposed_generator, dcgan_discriminator, _non_saturating)


def upsample_gan(settings: GeneratorParams) -> Gan:
    return Gan(settings, upsample_generator, sn_discriminator, _hinge)
