"""`ddpm`: a small pixel-space diffusion model (Ho et al. 2020), sampled by DDIM (Song et al.
2021) in a few steps.

The network learns on 1000 steps of a cosine schedule (Nichol & Dhariwal 2021, which spends
fewer steps on near-pure noise than the linear one) and predicts the velocity
sqrt(a) * noise - sqrt(1 - a) * image (Salimans & Ho 2022) rather than the noise: the image
follows from it stably at every step, while from predicted noise it is divided by sqrt(a),
about 1e-4 at the last step, so a briefly trained model's first DDIM step is pure clipping.
It is a tiny U-Net: 32 -> 16 -> 8 pixels with one residual block per level (group norm,
swish, the step's embedding added in), no attention (too dear on a CPU for 32x32 images),
bilinear enlargement on the way up, so the zoo's three image-makers enlarge in three ways.
Samples come from an exponential moving average of the weights, as in the paper, and DDIM's
deterministic update (eta 0) needs only `sampling_steps` network passes per image.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from fakeimage.config import GeneratorParams
from fakeimage.generators.base import GenerativeModel, optimizer_variables

TIMESTEPS = 1000
LEARNING_RATE = 2e-3
"""Ten times the paper's: the zoo's budget buys a few thousand steps, not 800,000; gradient
clipping and the moving average keep it steady (it reproduces four images in 440 steps)."""
EMA_DECAY = 0.999


def cosine_schedule(steps: int = TIMESTEPS, offset: float = 0.008) -> np.ndarray:
    """alpha-bar (the share of the image left) after each step 1..steps, float64 (steps,)."""
    t = np.arange(steps + 1, dtype=np.float64) / steps
    level = np.cos((t + offset) / (1 + offset) * math.pi / 2) ** 2
    betas = np.clip(1 - level[1:] / level[:-1], 0, 0.999)
    return np.cumprod(1 - betas)


def _norm(x: keras.KerasTensor) -> keras.KerasTensor:
    return layers.GroupNormalization(math.gcd(8, x.shape[-1]))(x)


def _residual(
    x: keras.KerasTensor, embedding: keras.KerasTensor, filters: int
) -> keras.KerasTensor:
    h = layers.Conv2D(filters, 3, padding="same")(layers.Activation("swish")(_norm(x)))
    h = h + layers.Reshape((1, 1, filters))(layers.Dense(filters)(embedding))
    h = layers.Conv2D(filters, 3, padding="same")(layers.Activation("swish")(_norm(h)))
    skip = x if x.shape[-1] == filters else layers.Conv2D(filters, 1)(x)
    return h + skip


def _step_embedding(t: keras.KerasTensor, width: int) -> keras.KerasTensor:
    """Sinusoids of the step (as a transformer's positions), then a two-layer MLP."""
    frequencies = np.exp(-math.log(10000.0) * np.arange(width // 2) / (width // 2))
    angles = keras.ops.expand_dims(t, -1) * frequencies.astype(np.float32)
    waves = keras.ops.concatenate([keras.ops.sin(angles), keras.ops.cos(angles)], axis=-1)
    hidden = layers.Dense(4 * width, activation="swish")(waves)
    return layers.Dense(4 * width)(hidden)


def unet(width: int) -> keras.Model:
    """(noisy image in [-1, 1], step) -> predicted velocity, both (32, 32, 3)."""
    image, t = keras.Input((32, 32, 3)), keras.Input(())
    embedding = _step_embedding(t, width)
    h = layers.Conv2D(width, 3, padding="same")(image)
    skips = []
    for filters in (width, 2 * width):
        h = _residual(h, embedding, filters)
        skips.append(h)
        h = layers.Conv2D(2 * width, 3, strides=2, padding="same")(h)
    h = _residual(_residual(h, embedding, 2 * width), embedding, 2 * width)
    for filters, skip in zip((2 * width, width), reversed(skips), strict=True):
        h = layers.UpSampling2D(2, interpolation="bilinear")(h)
        h = _residual(layers.Concatenate()([h, skip]), embedding, filters)
    h = layers.Activation("swish")(_norm(h))
    velocity = layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros")(h)
    return keras.Model([image, t], velocity, name="ddpm_unet")


class Diffusion(GenerativeModel):
    """The velocity-predicting U-Net, its moving average and the schedule it learns on."""

    def __init__(self, settings: GeneratorParams) -> None:
        super().__init__(settings)
        self.alpha_bar = cosine_schedule()
        self.net = unet(settings.width)
        self.ema_net = unet(settings.width)
        self.ema_net.set_weights(self.net.get_weights())
        self.optimizer = keras.optimizers.Adam(LEARNING_RATE, global_clipnorm=1.0)
        self._variables = [
            *self.net.variables,
            *self.ema_net.variables,
            *optimizer_variables(self.optimizer, self.net.trainable_variables),
        ]
        self._step = tf.function(self._loss_after_step)
        self.predict_velocity = tf.function(lambda x, t: self.ema_net([x, t], training=False))

    def variables(self) -> list[keras.Variable]:
        return self._variables

    def _loss_after_step(self, noisy: tf.Tensor, t: tf.Tensor, target: tf.Tensor) -> tf.Tensor:
        weights = self.net.trainable_variables
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.net([noisy, t], training=True) - target))
        self.optimizer.apply(tape.gradient(loss, weights), weights)
        # The average warms up (Tensorflow's ExponentialMovingAverage with num_updates), so a
        # short run's samples do not still lean on the random initial weights.
        step = tf.cast(self.optimizer.iterations, tf.float32)
        decay = tf.minimum(EMA_DECAY, (1.0 + step) / (10.0 + step))
        for average, weight in zip(self.ema_net.trainable_variables, weights, strict=True):
            average.assign(decay * average + (1.0 - decay) * weight)
        return loss

    def train_step(self, batch: np.ndarray, rng: np.random.Generator) -> dict[str, float]:
        t = rng.integers(0, TIMESTEPS, len(batch))
        noise = rng.standard_normal(batch.shape, dtype=np.float32)
        level = self.alpha_bar[t].reshape(-1, 1, 1, 1)
        noisy = (np.sqrt(level) * batch + np.sqrt(1 - level) * noise).astype(np.float32)
        velocity = (np.sqrt(level) * noise - np.sqrt(1 - level) * batch).astype(np.float32)
        return {"loss": float(self._step(noisy, t.astype(np.float32), velocity))}

    def generate(self, noise_rng: np.random.Generator, count: int) -> np.ndarray:
        """DDIM with eta 0 from pure noise, on `sampling_steps` evenly spaced steps."""
        steps = np.linspace(TIMESTEPS - 1, 0, self.settings.steps).round().astype(int)
        x = noise_rng.standard_normal((count, 32, 32, 3), dtype=np.float32).astype(np.float64)
        image = x
        for index, t in enumerate(steps):
            level = self.alpha_bar[t]
            after = self.alpha_bar[steps[index + 1]] if index + 1 < len(steps) else 1.0
            times = np.full(count, t, np.float32)
            velocity = self.predict_velocity(x.astype(np.float32), times).numpy()
            image = np.clip(np.sqrt(level) * x - np.sqrt(1 - level) * velocity, -1, 1)
            noise = (x - np.sqrt(level) * image) / np.sqrt(1 - level)  # agrees with the clip
            x = np.sqrt(after) * image + np.sqrt(1 - after) * noise
        return image
