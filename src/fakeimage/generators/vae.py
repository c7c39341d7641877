"""`vae`: a likelihood model, a convolutional variational autoencoder whose samples are its
decoder's means for draws from the prior.

The `synthetic` source's VAE (fakeimage.data.sources.synthetic) has the same shape but a
Bernoulli likelihood, which on natural images weighs reconstruction so lightly against the
prior that its samples are mush; this one is a sigma-VAE (Rybkin et al. 2021): a Gaussian
likelihood whose variance is the batch's mean squared error, its analytic optimum, which
balances the two terms and gives the sharpest samples a VAE of this size makes. The networks
follow the synthetic source's (stride-2 convolutions down, 4x4 transposed ones up, which
overlap evenly and so leave no checkerboard), widened by `width` and with a larger latent.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fakeimage.config import GeneratorParams
from fakeimage.generators.base import GenerativeModel, optimizer_variables

LATENT_DIM = 128
LEARNING_RATE = 1e-3
MIN_LOG_SIGMA = -6.0
"""A floor on the likelihood's log standard deviation, so a perfect batch cannot diverge."""


def encoder(width: int) -> keras.Model:
    """32x32 in [-1, 1] -> (mean, log-variance) of q(z|x), down to 4x4 by stride-2 convs."""
    image = keras.Input((32, 32, 3))
    x = image
    for filters in (width, 2 * width, 4 * width):
        x = layers.Conv2D(filters, 4, strides=2, padding="same", activation="relu")(x)
    stats = layers.Dense(2 * LATENT_DIM)(layers.Flatten()(x))
    mean, log_var = keras.ops.split(stats, 2, axis=-1)
    return keras.Model(image, [mean, log_var], name="vae_encoder")


def decoder(width: int) -> keras.Model:
    """z -> the likelihood's mean, 32x32 in [-1, 1]: the encoder's mirror image."""
    z = keras.Input((LATENT_DIM,))
    x = layers.Dense(4 * 4 * 4 * width, activation="relu")(z)
    x = layers.Reshape((4, 4, 4 * width))(x)
    for filters in (2 * width, width):
        up = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", activation="relu")
        x = up(x)
    mean = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(z, mean, name="vae_decoder")


class Vae(GenerativeModel):
    """Encoder and decoder trained together on the negative evidence lower bound."""

    def __init__(self, settings: GeneratorParams) -> None:
        super().__init__(settings)
        self.encoder, self.decoder = encoder(settings.width), decoder(settings.width)
        self.optimizer = keras.optimizers.Adam(LEARNING_RATE)
        self._weights = [*self.encoder.trainable_variables, *self.decoder.trainable_variables]
        self._variables = [
            *self.encoder.variables,
            *self.decoder.variables,
            *optimizer_variables(self.optimizer, self._weights),
        ]
        self._step = tf.function(self._losses_after_step)

    def variables(self) -> list[keras.Variable]:
        return self._variables

    def _losses_after_step(self, x: tf.Tensor, noise: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            mean, log_var = self.encoder(x, training=True)
            z = mean + tf.exp(0.5 * log_var) * noise
            error = tf.square(self.decoder(z, training=True) - x)
            log_sigma = tf.maximum(0.5 * tf.math.log(tf.reduce_mean(error)), MIN_LOG_SIGMA)
            # Gaussian NLL per image at the optimal sigma (constants dropped) + KL(q || N(0, I))
            nll = tf.reduce_sum(error, axis=[1, 2, 3]) / (2 * tf.exp(2 * log_sigma))
            nll += 32 * 32 * 3 * log_sigma
            kl = tf.reduce_sum(-0.5 * (1 + log_var - tf.square(mean) - tf.exp(log_var)), axis=1)
            loss = tf.reduce_mean(nll + kl)
        self.optimizer.apply(tape.gradient(loss, self._weights), self._weights)
        return loss, tf.reduce_mean(kl)

    def train_step(self, batch: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        noise = rng.standard_normal((len(batch), LATENT_DIM), dtype=np.float32)
        loss, kl = self._step(batch, noise)
        return {"loss": float(loss), "kl": float(kl)}

    def generate(self, noise_rng: np.random.Generator, count: int) -> np.ndarray:
        z = noise_rng.standard_normal((count, LATENT_DIM), dtype=np.float32)
        return self.decoder(z, training=False).numpy()
